"""Reference implementations of the classic GAN image-to-image translation models."""
