"""Training pipeline for the bundled default model (distil a DCGAN face teacher into our StyleGAN2,
sharpen it against a patch discriminator, fit the discriminator it ships with). Offline tooling: the
engine never imports this package at run time."""
