"""Errors raised while reading model files.

All of them derive from `ModelFileError(ValueError)` so callers (CLI, service) can turn any bad file
into one clear message without catching unrelated bugs.
"""
from __future__ import annotations


class ModelFileError(ValueError):
    """The model file is missing, malformed, unsafe or of a kind we cannot load; the message says which."""


class DefaultModelMissingError(ModelFileError, FileNotFoundError):
    """The bundled default model was asked for but is not in this checkout (not trained/exported yet)."""


class UnsupportedModelError(ModelFileError):
    """A recognised model kind that latentdrag does not load yet (StyleGAN3, TensorFlow-era pickles)."""


class UnsafeModelError(ModelFileError):
    """The file asks for something the restricted loader refuses (a non-allow-listed global, bad bounds)."""
