"""Errors a handler turns into a gRPC status; raised anywhere in the service with the final message."""
from __future__ import annotations

import grpc


class ServiceError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(field: str, reason: str) -> ServiceError:
    """INVALID_ARGUMENT with the field path first, so the editor can say what was wrong."""
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {reason}")


def not_found(what: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.NOT_FOUND, what)


def precondition(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, message)
