"""vocalsearch_tf: sound search by vocal imitation, in Keras and TensorFlow."""

__version__ = "0.2.0"
