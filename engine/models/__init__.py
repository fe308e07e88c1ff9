"""Generators, discriminators and model files."""
from .interface import EditableGenerator
from .stylegan2 import BlockInfo, Discriminator, Generator, StyleGAN2Config, SynthesisOutput

__all__ = ["BlockInfo", "Discriminator", "EditableGenerator", "Generator", "StyleGAN2Config", "SynthesisOutput"]
