"""Editing algorithms (drag, inversion, compositing, latent operations): pure functions over the
generator interface in `engine.models.interface`; no gRPC, sessions or editor code."""
