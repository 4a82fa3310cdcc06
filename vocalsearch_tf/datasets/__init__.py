"""The data: one loader per real layout, downloads, the embedded generators (`synthetic/`)."""
