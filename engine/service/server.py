"""Running the engine: gRPC server with health, reflection, token auth, a single-instance lock and
graceful shutdown."""
from __future__ import annotations

import hmac
import json
import logging
import os
import signal
import tempfile
import threading
from concurrent import futures
from pathlib import Path

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from engine.client._gen.latentdrag.v1 import engine_pb2 as pb
from engine.client._gen.latentdrag.v1 import engine_pb2_grpc as pb_grpc
from engine.models.loading import resolve_device

from .config import ServiceConfig
from .models import ModelRegistry
from .servicer import EngineServicer

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, binding with so_reuseport 0 still refuses
    fcntl = None

log = logging.getLogger("latentdrag.service")
ENGINE_SERVICE = pb.DESCRIPTOR.services_by_name["Engine"].full_name
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class EngineStartError(RuntimeError):
    """The engine cannot start as configured (address in use, token missing, ...)."""


def is_local_address(address: str) -> bool:
    """Unix sockets and loopback hosts; anything else needs a token."""
    if address.startswith("unix:"):
        return True
    host = address.rsplit(":", 1)[0]
    return host in LOOPBACK_HOSTS


def unix_socket_path(address: str) -> Path:
    """The file of "unix:/abs/path", "unix:///abs/path" or "unix:relative/path"."""
    rest = address[len("unix:"):]
    return Path(rest[2:] if rest.startswith("//") else rest)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    _standard = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "msg": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in self._standard})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls without `authorization: Bearer <token>` (constant-time compare); health is exempt."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(f"/{health.SERVICE_NAME}/"):
            return continuation(handler_call_details)
        sent = dict(handler_call_details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(sent.encode(), self._expected):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing or wrong bearer token: pass the engine's token (the --token-file of "
                          "`latentdrag serve`)")

        # The rejecting handler must have the same streaming shape as the real one.
        kinds = {(False, False): grpc.unary_unary_rpc_method_handler,
                 (False, True): grpc.unary_stream_rpc_method_handler,
                 (True, False): grpc.stream_unary_rpc_method_handler,
                 (True, True): grpc.stream_stream_rpc_method_handler}
        make = kinds[(handler.request_streaming, handler.response_streaming)]
        return make(deny, request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer)


class InstanceLock:
    """An exclusive lock file per listen address: a second engine on the same address fails clearly
    instead of silently sharing the port (SO_REUSEPORT) or stealing the unix socket."""

    def __init__(self, path: Path):
        self.path = path
        self._file = None

    @staticmethod
    def path_for(address: str) -> Path | None:
        if address.startswith("unix:"):
            path = unix_socket_path(address)
            return path.with_name(path.name + ".lock")
        port = address.rsplit(":", 1)[-1]
        if port == "0":
            return None  # an ephemeral port is never shared
        runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        host = address.rsplit(":", 1)[0].strip("[]").replace(":", "_")
        return Path(runtime) / f"latentdrag-engine-{host}-{port}.lock"

    def acquire(self) -> None:
        if fcntl is None:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._file = open(self.path, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            self._file = None
            raise EngineStartError(f"another engine already serves this address (lock {self.path} is held)") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EngineServer:
    """A configured engine. `start()` binds and serves in the background; `address` is the bound address
    (with the real port when the configured one was 0)."""

    def __init__(self, config: ServiceConfig, registry: ModelRegistry | None = None):
        if not is_local_address(config.listen) and not config.token:
            raise EngineStartError(f"listening on {config.listen} (not loopback) needs a token: pass --token-file")
        self.config = config
        if config.torch_threads is not None:
            torch.set_num_threads(config.torch_threads)  # process-wide: the engine owns its process
        self.registry = registry or ModelRegistry(resolve_device(config.device), config.model_path,
                                                  config.models_dir)
        self.servicer = EngineServicer(config, self.registry)
        self.health = health.HealthServicer()
        lock_path = config.lock_path or InstanceLock.path_for(config.listen)
        self._lock = InstanceLock(lock_path) if lock_path is not None else None
        self._server: grpc.Server | None = None
        self._stopped = threading.Event()
        self._done = threading.Event()
        self.address = config.listen

    def start(self) -> "EngineServer":
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._bind()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        for service in ("", ENGINE_SERVICE):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info("engine serving", extra={"address": self.address, "device": str(self.registry.device),
                                          "default_model": self.registry.default_name,
                                          "torch_threads": torch.get_num_threads(),
                                          "precision": self.config.precision})
        return self

    def _bind(self) -> None:
        c = self.config
        options = [("grpc.max_send_message_length", c.max_message_bytes),
                   ("grpc.max_receive_message_length", c.max_message_bytes),
                   ("grpc.so_reuseport", 0)]
        interceptors = [BearerTokenInterceptor(c.token)] if c.token else []
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=c.thread_pool_size,
                                                        thread_name_prefix="latentdrag-rpc"),
                             options=options, interceptors=interceptors)
        pb_grpc.add_EngineServicer_to_server(self.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection((ENGINE_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        address = c.listen
        if address.startswith("unix:"):
            socket_path = unix_socket_path(address)
            socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if socket_path.exists():  # we hold the lock, so the socket is a stale leftover
                socket_path.unlink()
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise EngineStartError(f"cannot listen on {address}: {exc}") from None
        if port == 0 and not address.startswith("unix:"):
            raise EngineStartError(f"cannot listen on {address} (in use, or not an address of this machine)")
        server.start()
        if not address.startswith("unix:"):
            self.address = f"{address.rsplit(':', 1)[0]}:{port}"
        self._server = server

    def stop(self, grace: float | None = None) -> None:
        """Health NOT_SERVING first (so balancers and editors stop sending), then stop with grace."""
        if self._server is None or self._stopped.is_set():
            return
        self._stopped.set()
        self.servicer.serving = False
        self.health.enter_graceful_shutdown()
        self._server.stop(self.config.shutdown_grace_s if grace is None else grace).wait()
        self.servicer.worker.stop()
        if self._lock is not None:
            self._lock.release()
        log.info("engine stopped", extra={"address": self.address})
        self._done.set()

    def wait(self) -> None:
        """Block until `stop()` (e.g. from SIGTERM) has finished."""
        self._done.wait()

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT → graceful stop (from a helper thread: stop() blocks)."""

        def on_signal(signum, frame):
            log.info("signal received, shutting down", extra={"signal": signal.Signals(signum).name})
            threading.Thread(target=self.stop, name="latentdrag-shutdown", daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
