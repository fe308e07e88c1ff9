"""Training pipeline for the bundled default model (distil a DCGAN face teacher into our StyleGAN2,
then fine-tune adversarially). Offline tooling: the engine never imports this package at run time."""
