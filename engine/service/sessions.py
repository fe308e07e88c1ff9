"""Editing sessions: a model, a history of revisions and, for image sessions, the original layer.

The layer array is made read-only when the session is created: every composite is computed from it, so
no edit can ever modify the original. Revisions hold their own generator reference because an image
session edits through its own (pivotal-tuned) generator copy.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

import grpc
import numpy as np
import torch

from engine.edit.region import Region

from .errors import ServiceError, invalid, not_found, precondition


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Revision:
    id: int
    ws: torch.Tensor                 # [1, num_ws, w_dim], on the engine's device
    generator: torch.nn.Module       # the model's G, or the session's tuned copy
    description: str
    truncation_psi: float = 1.0      # what the latent was sampled with (1 when unknown)
    created_ms: int = field(default_factory=now_ms)


@dataclass
class ImageSource:
    """What an image session was made from: composites of every revision are computed from these."""
    layer: np.ndarray                # uint8 [H, W, 4], read-only
    region: Region
    box: tuple[int, int, int, int]   # (x, y, width, height) of the selection in layer pixels
    base_render: torch.Tensor        # [1, 3, R, R] the first revision's render: the "before" of composites
    tuned_generator: torch.nn.Module | None = None  # the session's pivotal-tuned copy, if any


@dataclass
class Session:
    id: str
    model: str
    kind: str                        # "seed" | "latent" | "image"
    resolution: int
    revisions: list[Revision]
    image: ImageSource | None = None
    created_ms: int = field(default_factory=now_ms)
    last_used: float = field(default_factory=time.monotonic)
    busy: bool = False
    next_revision: int = 2

    @property
    def name(self) -> str:
        return f"sessions/{self.id}"

    @property
    def current(self) -> Revision:
        return self.revisions[-1]

    def revision(self, revision_id: int, field_name: str = "revision") -> Revision:
        """Revision `revision_id` (0 = current) or NOT_FOUND listing the ones that exist."""
        if revision_id == 0:
            return self.current
        for revision in self.revisions:
            if revision.id == revision_id:
                return revision
        raise not_found(f"{field_name}: {self.name} has no revision {revision_id} "
                        f"(revisions: {', '.join(str(r.id) for r in self.revisions)})")

    def nbytes(self) -> int:
        """Memory the session holds beyond the shared model: its layer and any generator copies."""
        if self.image is None:
            return 0
        total = self.image.layer.nbytes
        if self.image.tuned_generator is not None:
            total += sum(t.numel() * t.element_size() for t in self.image.tuned_generator.state_dict().values())
        return total


class SessionStore:
    """Sessions by id with a TTL since last use, a count limit and a memory limit (idle sessions are
    evicted oldest-first to make room; busy ones never are)."""

    def __init__(self, max_sessions: int, max_bytes: int, ttl_s: float):
        self.max_sessions = max_sessions
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self.lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._sessions)

    def expire_time_ms(self, session: Session) -> int:
        return now_ms() + int((self.ttl_s - (time.monotonic() - session.last_used)) * 1000)

    def sweep(self) -> None:
        with self.lock:
            deadline = time.monotonic() - self.ttl_s
            for sid in [sid for sid, s in self._sessions.items() if s.last_used < deadline and not s.busy]:
                del self._sessions[sid]

    def add(self, session: Session) -> Session:
        with self.lock:
            self.sweep()
            idle = sorted((s for s in self._sessions.values() if not s.busy), key=lambda s: s.last_used)
            while idle and (len(self._sessions) >= self.max_sessions or
                            self.total_bytes() + session.nbytes() > self.max_bytes):
                del self._sessions[idle.pop(0).id]
            if len(self._sessions) >= self.max_sessions:
                raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"too many sessions (the engine's limit is {self.max_sessions}, all busy)")
            if self.total_bytes() + session.nbytes() > self.max_bytes:
                raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"not enough session memory for this session (limit {self.max_bytes} bytes)")
            self._sessions[session.id] = session
            return session

    def total_bytes(self) -> int:
        return sum(s.nbytes() for s in self._sessions.values())

    def get(self, name: str, field_name: str = "session") -> Session:
        """The session called `name` ("sessions/{id}"), refreshing its TTL."""
        if not name.startswith("sessions/"):
            raise invalid(field_name, f"must be a session name like 'sessions/abc123', got {name!r}")
        with self.lock:
            self.sweep()
            session = self._sessions.get(name.split("/", 1)[1])
            if session is None:
                raise not_found(f"{field_name}: no session {name!r} (it may have expired)")
            session.last_used = time.monotonic()
            return session

    def list(self) -> list[Session]:
        with self.lock:
            self.sweep()
            return list(self._sessions.values())

    def delete(self, name: str) -> None:
        with self.lock:
            session = self.get(name, "name")
            if session.busy:
                raise precondition(f"{name} has a running job; cancel it before deleting the session")
            del self._sessions[session.id]

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(8)

    def claim(self, name: str, expected_revision: int, field_name: str = "session") -> Session:
        """Mark a session busy for a job; FAILED_PRECONDITION when one runs, ABORTED when it moved on."""
        with self.lock:
            session = self.get(name, field_name)
            if session.busy:
                raise precondition(f"{name} already has a running job; wait for it or cancel it")
            if expected_revision and expected_revision != session.current.id:
                raise ServiceError(grpc.StatusCode.ABORTED,
                                   f"expected_revision {expected_revision} is not current: {name} is at "
                                   f"revision {session.current.id}; re-read the session and retry")
            session.busy = True
            return session

    def release(self, session: Session) -> None:
        with self.lock:
            session.busy = False
            session.last_used = time.monotonic()

    def commit(self, session: Session, ws: torch.Tensor, generator: torch.nn.Module, description: str,
               truncation_psi: float) -> Revision:
        with self.lock:
            revision = Revision(session.next_revision, ws.detach(), generator, description, truncation_psi)
            session.next_revision += 1
            session.revisions.append(revision)
            return revision

    def revert(self, name: str, revision_id: int) -> Session:
        with self.lock:
            session = self.get(name)
            if session.busy:
                raise precondition(f"{name} has a running job; cancel it before reverting")
            if revision_id <= 0:
                raise invalid("revision", f"must be a revision id of {name}, got {revision_id}")
            target = session.revision(revision_id)
            session.revisions = session.revisions[:session.revisions.index(target) + 1]
            return session
