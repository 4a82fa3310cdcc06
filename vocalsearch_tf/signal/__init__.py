"""Audio in, features out: loading, the ConstantQ / LogMel front-end layers, whole-clip spectra, augmentation."""
