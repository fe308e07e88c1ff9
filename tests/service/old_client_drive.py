"""Run by the Debian-era interpreter (grpcio 1.51 / protobuf 4.21, no torch, no numpy): drives a full
edit through engine.client and prints a JSON summary. Usage: python old_client_drive.py ADDRESS"""
import json
import sys

import google.protobuf
import grpc

from engine.client import EngineClient, EngineError

address = sys.argv[1]
with EngineClient(address, timeout=60) as engine:
    info = engine.health()
    models = [m.name for m in engine.list_models()]
    made = engine.create_session_from_seed(3, psi=0.7)
    progress = []
    out = engine.drag(made.session.name, [(10, 10)], [(14, 10)], max_steps=6, preview_every=3,
                      on_progress=progress.append)
    blob = engine.export_latent(made.session.name)
    resumed = engine.create_session_from_latent(blob)
    try:
        engine.get_session("sessions/none")
        missing = None
    except EngineError as exc:
        missing = exc.code
print(json.dumps({
    "grpc": grpc.__version__, "protobuf": google.protobuf.__version__,
    "heavy_modules": sorted(m for m in ("torch", "numpy") if m in sys.modules),
    "serving": info.serving, "models": models, "revision": out.session.revision, "steps": out.steps,
    "progress": len(progress), "previews": sum(p.preview is not None for p in progress),
    "same_after_resume": resumed.image.data == out.image.data, "missing": missing,
}))
