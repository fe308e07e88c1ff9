"""One compute worker thread per device behind a bounded queue.

Handlers never compute: they submit a `Job` and wait on it. The worker publishes progress into a size-1
latest-frame slot (a slow reader only ever misses intermediate frames, and never blocks the worker) and
the outcome into a slot that is never overwritten, so the final result is never dropped.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

import grpc

from .errors import ServiceError

log = logging.getLogger("latentdrag.service")


class JobCancelled(Exception):
    """Raised inside a job (or recorded for it) when its client went away or cancelled."""


class Job:
    def __init__(self, name: str, run: Callable[["Job"], Any], cleanup: Callable[[], None] | None = None):
        self.name = name
        self.run = run
        self._cleanup = cleanup
        self.cancel = threading.Event()
        self._cond = threading.Condition()
        self._latest: Any = None
        self._finished = False
        self.result: Any = None
        self.error: BaseException | None = None

    def publish(self, progress: Any) -> None:
        """Replace the pending progress frame (called by the worker)."""
        with self._cond:
            self._latest = progress
            self._cond.notify_all()

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        """Record the outcome (run `cleanup` first, so a waiter sees e.g. its session released)."""
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None
        with self._cond:
            self.result, self.error, self._finished = result, error, True
            self._cond.notify_all()

    def next_event(self, timeout: float) -> tuple[Any, bool]:
        """(pending progress or None, finished): waits until either exists or `timeout` passes."""
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None or self._finished, timeout)
            progress, self._latest = self._latest, None
            return progress, self._finished

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._finished, timeout)


class ComputeWorker:
    """Runs jobs one at a time on the device; at most `max_queued` wait behind the running one."""

    def __init__(self, max_queued: int, name: str = "latentdrag-compute"):
        self.max_queued = max_queued
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queued)
        self._running: Job | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job) -> Job:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"the engine is busy: {self.max_queued} jobs are already waiting; "
                               "try again when one has finished") from None
        return job

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the running job to stop and end the thread once the queue is drained."""
        if self._running is not None:
            self._running.cancel.set()
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is not None:
                pending.finish(error=ServiceError(grpc.StatusCode.UNAVAILABLE, "the engine is shutting down"))
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.cancel.is_set():
                job.finish(error=JobCancelled())
                continue
            self._running = job
            try:
                job.finish(result=job.run(job))
            except (ServiceError, JobCancelled) as exc:
                job.finish(error=exc)
            except ValueError as exc:  # the core libraries' "bad argument" errors
                job.finish(error=ServiceError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)))
            except Exception as exc:  # noqa: BLE001 - a failed job must not kill the worker
                log.exception("job %s failed", job.name)
                job.finish(error=ServiceError(grpc.StatusCode.INTERNAL, f"{job.name} failed: {exc}"))
            finally:
                self._running = None
