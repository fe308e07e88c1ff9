"""Latent Drag for Krita: registers the docker and its actions when Krita loads the plugin.

Outside Krita (the plain-Python tests import the pure modules of this package) nothing is registered.
"""
import importlib.util

if importlib.util.find_spec("krita") is not None:
    from .docker import register

    register()
