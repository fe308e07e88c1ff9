"""The one exception the client raises for anything the engine (or the connection) reports."""
from __future__ import annotations

import grpc


class EngineError(Exception):
    """`code` is the gRPC status name ("INVALID_ARGUMENT", "UNAVAILABLE", "CANCELLED", ...) and `message`
    a sentence an editor can show as is."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def error_from_rpc(error: grpc.RpcError, address: str) -> EngineError:
    """Translate a failed call; an unreachable engine gets the command that starts one."""
    status = error.code() if hasattr(error, "code") else None
    code = status.name if status is not None else "UNKNOWN"
    details = (error.details() if hasattr(error, "details") else None) or code.replace("_", " ").lower()
    if code == "UNAVAILABLE":
        details = (f"no engine answers at {address} ({details}); start one with "
                   f"`latentdrag serve --listen {address}`")
    return EngineError(code, details)
