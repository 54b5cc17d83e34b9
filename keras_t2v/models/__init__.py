"""Image and video GANs: StackGAN (text -> frame) and VGAN (frame -> video)."""
