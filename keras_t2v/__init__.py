"""keras_t2v: a Keras 3 reimplementation of a 2017 GAN-era text-to-video pipeline.

fastText word vectors -> sentence VAE -> Siamese joint embedding -> StackGAN -> VGAN -> GIF.
"""

import os

# TensorFlow turns its oneDNN CPU kernels on by itself only on CPUs with AVX512_VNNI, AVX512_BF16,
# AMX and the like; on an AVX2-only CPU its fallback kernels train the GANs 1.6-2.3x slower and take
# a strided Conv3D's gradients 50-135x slower than its forward pass (README "A CPU without
# AVX-512"). TensorFlow reads this when first imported, so it comes before any import of it; a
# value the user set wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
