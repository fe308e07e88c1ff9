"""Client of the latentdrag engine (grpcio + protobuf only; vendored by the Krita and GIMP plugins).

    from engine.client import EngineClient
    with EngineClient("127.0.0.1:50051") as engine:
        made = engine.create_session_from_seed(3, psi=0.7)
        out = engine.drag(made.session.name, [(20, 30)], [(26, 30)], on_progress=print)
        open("out.png", "wb").write(out.image.data)
"""
from .client import DEFAULT_ADDRESS, EngineClient, describe_latent
from .errors import EngineError
from .types import (DirectionSetting, DragOutcome, DragProgress, ImageData, InversionProgress, LatentEditOutcome,
                    LatentEditSpec, LatentInfo, ModelInfo, RawImage, RevisionInfo, ServerInfo, SessionInfo,
                    SessionOutcome)

__all__ = ["DEFAULT_ADDRESS", "DirectionSetting", "DragOutcome", "DragProgress", "EngineClient", "EngineError",
           "ImageData", "InversionProgress", "LatentEditOutcome", "LatentEditSpec", "LatentInfo", "ModelInfo",
           "RawImage", "RevisionInfo", "ServerInfo", "SessionInfo", "SessionOutcome", "describe_latent"]
