"""Pure-Python parts of the GIMP 3 plug-in (no GIMP, no torch): drag points from path strokes, selection
masks, pixel buffers, layer naming and the latent parasite. Kept apart from `latentdrag_gimp.py` so they
can be tested with plain pytest."""
