"""keras_t2v: a Keras 3 reimplementation of a 2017 GAN-era text-to-video pipeline.

fastText word vectors -> sentence VAE -> Siamese joint embedding -> StackGAN -> VGAN -> GIF.
"""

__version__ = "0.1.0"
