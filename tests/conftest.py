import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_t2v  # noqa: E402,F401  (before any test module imports TensorFlow: it sets TF_ENABLE_ONEDNN_OPTS)
