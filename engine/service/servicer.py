"""The `latentdrag.v1.Engine` handlers: validate, hand compute to the worker, translate the results.

Handlers run on gRPC's thread pool and only validate and wait; everything that touches a generator runs
as a `Job` on the single compute worker, so the device is never used by two threads at once and light
RPCs (server info, listing, GetSession) stay responsive while a drag runs.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from typing import Callable, Iterator

import grpc
import numpy as np
import torch

from engine import __version__
from engine.client._gen.latentdrag.v1 import engine_pb2 as pb
from engine.client._gen.latentdrag.v1 import engine_pb2_grpc as pb_grpc
from engine.edit import drag as drag_lib
from engine.edit import inversion, latent_ops
from engine.edit.composite import composite
from engine.edit.latent_files import DirectionCache
from engine.edit.region import crop_region
from engine.models.render import z_for_seed

from . import convert
from .config import ServiceConfig
from .errors import ServiceError, invalid, precondition
from .imaging import as_rgba, decode_image, encode_image, mask_plane, tensor_to_rgb
from .jobs import ComputeWorker, Job, JobCancelled
from .models import ModelRegistry
from .sessions import ImageSource, Revision, Session, SessionStore

log = logging.getLogger("latentdrag.service")

METHODS = {pb.DRAG_METHOD_DRAGGAN: "draggan", pb.DRAG_METHOD_FREEDRAG: "freedrag"}
DRAG_PRESETS = {pb.DRAG_PRESET_FAST: "fast", pb.DRAG_PRESET_PUBLISHED: "published"}
INVERSION_PRESETS = {pb.INVERSION_PRESET_FAST: "fast", pb.INVERSION_PRESET_FAITHFUL: "faithful"}
COORDINATES = {pb.COORDINATE_SPACE_MODEL: "model", pb.COORDINATE_SPACE_LAYER: "layer"}
LATENT_SPACES = {pb.LATENT_SPACE_W: "w", pb.LATENT_SPACE_W_PLUS: "w+"}
PROGRESS_WAIT_S = 0.5


def _status(error: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(error, ServiceError):
        return error.code, error.message
    if isinstance(error, JobCancelled):
        return grpc.StatusCode.CANCELLED, "cancelled; the session keeps its last revision"
    return grpc.StatusCode.INTERNAL, str(error)


def _logged(method: Callable) -> Callable:
    """Log one structured line per call and turn ServiceError into the call's status."""

    def finish(name: str, started: float, code: grpc.StatusCode, context) -> None:
        log.info("rpc", extra={"rpc": name, "code": code.name, "ms": round((time.perf_counter() - started) * 1000, 1),
                               "peer": context.peer()})

    if method.__name__ in ("Drag", "CreateSessionFromImage"):
        @functools.wraps(method)
        def streaming(self, request, context):
            started = time.perf_counter()
            try:
                yield from method(self, request, context)
            except ServiceError as exc:
                finish(method.__name__, started, exc.code, context)
                context.abort(exc.code, exc.message)
            finish(method.__name__, started, grpc.StatusCode.OK, context)
        return streaming

    @functools.wraps(method)
    def unary(self, request, context):
        started = time.perf_counter()
        try:
            response = method(self, request, context)
        except ServiceError as exc:
            finish(method.__name__, started, exc.code, context)
            context.abort(exc.code, exc.message)
        finish(method.__name__, started, grpc.StatusCode.OK, context)
        return response
    return unary


class _AnySet:
    """A drag's stop token: set when the RPC is cancelled (the drag is discarded) or FinishDrag asks it
    to stop where it is (the drag is committed)."""

    def __init__(self, *events: threading.Event):
        self.events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self.events)


def render(generator, ws: torch.Tensor) -> torch.Tensor:
    """`[1, 3, R, R]` in [-1, 1] with constant noise, so a revision always renders the same."""
    with torch.no_grad():
        return generator.synthesis(ws.to(generator.w_avg.device), noise_mode="const")


class EngineServicer(pb_grpc.EngineServicer):
    def __init__(self, config: ServiceConfig, registry: ModelRegistry, worker: ComputeWorker | None = None):
        self.config = config
        self.registry = registry
        self.worker = worker or ComputeWorker(config.max_queued_jobs)
        self.sessions = SessionStore(config.max_sessions, config.max_session_bytes, config.session_ttl_s)
        self.serving = True
        self._directions: dict[str, latent_ops.Directions] = {}
        self._direction_cache = DirectionCache(config.directions_cache_dir)
        self._drag_finishers: dict[str, threading.Event] = {}  # session → its running drag's FinishDrag
        self._finishers_lock = threading.Lock()

    # ---- plumbing

    def _job(self, name: str, run: Callable[[Job], object], cleanup: Callable[[], None] | None = None) -> Job:
        if not self.serving:
            if cleanup:
                cleanup()
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, "the engine is shutting down")
        try:
            return self.worker.submit(Job(name, run, cleanup))
        except ServiceError:
            if cleanup:
                cleanup()
            raise

    def _compute(self, name: str, run: Callable[[Job], object], context,
                 cleanup: Callable[[], None] | None = None):
        """Run `run` on the compute worker and wait; the RPC's cancellation cancels the job."""
        job = self._job(name, run, cleanup)
        context.add_callback(job.cancel.set)
        job.wait()
        if job.error is not None:
            raise ServiceError(*_status(job.error))
        return job.result

    def _stream(self, job: Job, context, progress_message: Callable) -> Iterator:
        """Yield progress messages from the latest-frame slot, then the result message (never dropped)."""
        context.add_callback(job.cancel.set)
        while True:
            progress, finished = job.next_event(PROGRESS_WAIT_S)
            if progress is not None:
                yield progress_message(progress)
            if finished:
                break
        if job.error is not None:
            raise ServiceError(*_status(job.error))
        yield job.result

    def _outputs(self, session: Session, revision: Revision, encoding: int, with_composite: bool = True,
                 image: torch.Tensor | None = None) -> tuple[pb.Image, pb.Image | None]:
        """(model-resolution image, layer composite for image sessions) of a revision. Worker only."""
        image = render(revision.generator, revision.ws) if image is None else image
        rendered = encode_image(tensor_to_rgb(image), encoding)
        if session.image is None or not with_composite:
            return rendered, None
        source = session.image
        layer = composite(source.layer, source.region, source.base_render, image.to(source.base_render.device))
        return rendered, encode_image(layer, encoding)

    def _session_response(self, response_type, session: Session, encoding: int):
        image, layer = self._outputs(session, session.current, encoding)
        response = response_type(session=convert.session_message(session, self.sessions), image=image)
        if layer is not None:
            response.composite.CopyFrom(layer)
        return response

    def _decode(self, message: pb.Image, field: str) -> np.ndarray:
        return decode_image(message, field, self.config.max_image_side)

    # ---- server and models

    @_logged
    def GetServerInfo(self, request, context):
        c = self.config
        return pb.GetServerInfoResponse(
            version=__version__, device=str(self.registry.device), serving=self.serving,
            queued_jobs=self.worker.queued, busy=self.worker.busy, session_count=len(self.sessions),
            default_model=self.registry.default_name,
            limits=pb.Limits(max_image_side=c.max_image_side, max_message_bytes=c.max_message_bytes,
                             max_points=c.max_points, max_sessions=c.max_sessions,
                             max_queued_jobs=c.max_queued_jobs, max_drag_steps=c.max_drag_steps))

    @_logged
    def ListModels(self, request, context):
        models = []
        for e in self.registry.entries():
            cfg = e.info.config
            models.append(pb.Model(
                name=e.name, display_name=e.info.name, architecture=e.info.architecture,
                resolution=e.info.resolution, num_ws=e.info.num_ws, w_dim=cfg.w_dim,
                has_discriminator=e.info.has_discriminator, license=e.info.license,
                description=e.info.description, provenance=e.info.provenance, is_default=e.is_default,
                loaded=e.loaded is not None))
        return pb.ListModelsResponse(models=models, default_model=self.registry.default_name)

    # ---- sessions

    @_logged
    def CreateSession(self, request, context):
        encoding = convert.check_encoding(request.result_encoding, "result_encoding")
        source = request.WhichOneof("source")
        if source is None:
            raise invalid("source", "set either seed or latent")
        if source == "seed":
            seed, psi = request.seed.seed, convert.finite(request.seed.truncation_psi, "seed.truncation_psi", -2, 2)
            if seed >= 2 ** 32:
                raise invalid("seed.seed", f"must be below 2^32, got {seed}")
            name = self.registry.entry(request.model).name
            return self._compute("CreateSession", lambda job: self._create_from_seed(name, seed, psi, encoding),
                                 context)
        latent = request.latent.latent
        name = self.registry.entry(request.model or latent.model, "model" if request.model else "latent.latent.model").name
        if latent.model_sha256 and latent.model_sha256 != self.registry.sha256(name):
            raise precondition(f"latent.latent.model_sha256: the latent was made with a different model file "
                               f"than {name}; pick the model it was made with")
        layer = None
        if request.latent.HasField("layer"):
            layer = as_rgba(self._decode(request.latent.layer, "latent.layer"))
        return self._compute("CreateSession",
                             lambda job: self._create_from_latent(name, latent, layer, encoding), context)

    def _new_session(self, model: str, kind: str, generator, ws: torch.Tensor, description: str, psi: float,
                     image: ImageSource | None = None) -> Session:
        session = Session(id=self.sessions.new_id(), model=model, kind=kind, resolution=generator.img_resolution,
                          revisions=[Revision(1, ws.detach(), generator, description, psi)], image=image)
        return self.sessions.add(session)

    def _create_from_seed(self, model: str, seed: int, psi: float, encoding: int):
        G = self.registry.load(model).G
        z = z_for_seed(seed, G.z_dim).to(G.w_avg.device)
        with torch.no_grad():
            ws = G.mapping(z, None, truncation_psi=psi)
        session = self._new_session(model, "seed", G, ws, f"seed {seed}, psi {psi:g}", psi)
        return self._session_response(pb.CreateSessionResponse, session, encoding)

    def _create_from_latent(self, model: str, latent: pb.Latent, layer: np.ndarray | None, encoding: int):
        G = self.registry.load(model).G
        ws = convert.latent_tensor(latent, "latent.latent", G.num_ws, G.w_dim).to(G.w_avg.device)
        psi = latent.truncation_psi or 1.0
        if layer is None:
            session = self._new_session(model, "latent", G, ws, "imported latent", psi)
            return self._session_response(pb.CreateSessionResponse, session, encoding)
        height, width = layer.shape[:2]
        if latent.layer_width and (latent.layer_width, latent.layer_height) != (width, height):
            raise invalid("latent.layer", f"is {width}x{height} but the latent was made for a "
                          f"{latent.layer_width}x{latent.layer_height} layer")
        box = (convert.selection_box(latent.region_box, "latent.latent.region_box", width, height)
               if latent.HasField("region_box") else (0, 0, width, height))
        region = crop_region(layer, G.img_resolution, box=(box[0], box[1], box[0] + box[2], box[1] + box[3]))
        layer.setflags(write=False)
        source = ImageSource(layer=layer, region=region, box=box, base_render=render(G, ws))
        session = self._new_session(model, "image", G, ws, "imported latent on a layer", psi, source)
        return self._session_response(pb.CreateSessionResponse, session, encoding)

    @_logged
    def CreateSessionFromImage(self, request, context):
        encoding = convert.check_encoding(request.result_encoding, "result_encoding")
        preset = convert.enum_choice(request.preset, INVERSION_PRESETS, "preset", pb.InversionPreset)
        if request.preview_every < 0:
            raise invalid("preview_every", f"must be >= 0, got {request.preview_every}")
        name = self.registry.entry(request.model).name
        if not request.HasField("image"):
            raise invalid("image", "is required")
        layer = as_rgba(self._decode(request.image, "image"))
        height, width = layer.shape[:2]
        box = (convert.selection_box(request.selection, "selection", width, height)
               if request.HasField("selection") else None)
        plane = None
        if request.HasField("mask"):
            plane = mask_plane(self._decode(request.mask, "mask"))
            if plane.shape != (height, width):
                raise invalid("mask", f"is {plane.shape[1]}x{plane.shape[0]} but the image is {width}x{height}")
            if plane.max() <= 0:
                raise invalid("mask", "selects nothing")
        xyxy = None if box is None else (box[0], box[1], box[0] + box[2], box[1] + box[3])
        x0, y0, x1, y1 = xyxy or (0, 0, width, height)
        if not layer[y0:y1, x0:x1, 3].any():
            raise invalid("image", "is fully transparent where it would be inverted (alpha 0 in the region)")

        def run(job: Job):
            loaded = self.registry.load(name)
            G = loaded.G
            region = crop_region(layer, G.img_resolution, box=xyxy, mask=plane)
            settings = inversion.preset_settings(preset, **{"precision": self.config.precision,
                                                            **self.config.inversion_overrides})
            result = inversion.invert(G, region.crop.to(G.w_avg.device), preset, discriminator=loaded.D,
                                      target_alpha=region.alpha,
                                      callback=lambda p: job.publish(dataclasses.replace(
                                          p, image=None if p.image is None else p.image.detach().cpu())),
                                      cancel=job.cancel, settings=settings, preview_every=request.preview_every)
            if result.cancelled:
                raise JobCancelled()
            generator = result.generator
            tuned = generator if generator is not G else None
            if tuned is not None:
                tuned.eval().requires_grad_(False)
            layer.setflags(write=False)
            base = render(generator, result.ws)
            source = ImageSource(layer=layer, region=region, box=box or (0, 0, width, height), base_render=base,
                                 tuned_generator=tuned)
            session = self._new_session(name, "image", generator, result.ws,
                                        f"inverted ({preset}, PSNR {result.psnr:.1f} dB)", 1.0, source)
            image, composited = self._outputs(session, session.current, encoding, image=base)
            return pb.CreateSessionFromImageResponse(result=pb.InversionResult(
                session=convert.session_message(session, self.sessions), image=image, composite=composited,
                psnr=result.psnr, seconds=result.seconds))

        def progress_message(p: inversion.InversionProgress):
            message = pb.InversionProgress(step=p.step, total_steps=p.total_steps, stage=p.stage,
                                           loss=p.loss)
            if p.image is not None:
                message.preview.CopyFrom(encode_image(tensor_to_rgb(p.image), pb.IMAGE_ENCODING_JPEG))
            return pb.CreateSessionFromImageResponse(progress=message)

        yield from self._stream(self._job("CreateSessionFromImage", run), context, progress_message)

    @_logged
    def GetSession(self, request, context):
        return pb.GetSessionResponse(session=convert.session_message(self.sessions.get(request.name, "name"),
                                                                     self.sessions))

    @_logged
    def ListSessions(self, request, context):
        return pb.ListSessionsResponse(sessions=[convert.session_message(s, self.sessions)
                                                 for s in self.sessions.list()])

    @_logged
    def DeleteSession(self, request, context):
        self.sessions.delete(request.name)
        return pb.DeleteSessionResponse()

    # ---- drag

    @_logged
    def Drag(self, request, context):
        c = self.config
        method = convert.enum_choice(request.method, METHODS, "method", pb.DragMethod)
        preset = convert.enum_choice(request.preset, DRAG_PRESETS, "preset", pb.DragPreset, default="fast")
        space = convert.enum_choice(request.coordinates, COORDINATES, "coordinates", pb.CoordinateSpace,
                                    default="model")
        latent_space = convert.enum_choice(request.latent_space, LATENT_SPACES, "latent_space", pb.LatentSpace,
                                           default="w+")
        encoding = convert.check_encoding(request.result_encoding, "result_encoding")
        if not request.handles:
            raise invalid("handles", "at least one handle is needed")
        if len(request.handles) > c.max_points:
            raise invalid("handles", f"{len(request.handles)} points is too many (the engine's limit is "
                          f"{c.max_points})")
        if len(request.targets) != len(request.handles):
            raise invalid("targets", f"needs one target per handle: {len(request.handles)} handles, "
                          f"{len(request.targets)} targets")
        max_steps = request.max_steps or c.default_drag_steps
        if not 1 <= max_steps <= c.max_drag_steps:
            raise invalid("max_steps", f"must be in 1..{c.max_drag_steps}, got {request.max_steps}")
        if request.preview_every < 0:
            raise invalid("preview_every", f"must be >= 0, got {request.preview_every}")
        session = self.sessions.get(request.session)
        source, res = session.image, session.resolution
        if space == "layer" and source is None:
            raise precondition(f"coordinates: COORDINATE_SPACE_LAYER needs an image session; {session.name} "
                               f"is a {session.kind} session")
        width, height = (source.layer.shape[1], source.layer.shape[0]) if space == "layer" else (res, res)
        handles = convert.points(request.handles, "handles", width, height)
        targets = convert.points(request.targets, "targets", width, height)
        mask = None
        if request.HasField("mask"):
            plane = mask_plane(self._decode(request.mask, "mask"))
            if plane.shape != (height, width):
                raise invalid("mask", f"is {plane.shape[1]}x{plane.shape[0]} but must be {width}x{height} "
                              f"({space} coordinates)")
            mask = convert.mask_to_model(plane, source.region) if space == "layer" else torch.from_numpy(plane)
        elif source is not None and float(source.region.mask.min()) < 1:
            mask = source.region.mask  # keep the generator's change inside the selection
        if space == "layer":
            handles, targets = source.region.layer_to_model(handles), source.region.layer_to_model(targets)
        to_request_space = source.region.model_to_layer if space == "layer" else (lambda pts: pts)
        options = drag_lib.DragOptions(method=method, preset=preset, max_steps=max_steps, latent_space=latent_space,
                                       preview_every=request.preview_every, seed=request.seed,
                                       precision=self.config.precision)
        session = self.sessions.claim(request.session, request.expected_revision)
        finish = threading.Event()
        with self._finishers_lock:
            self._drag_finishers[request.session] = finish

        def release() -> None:
            with self._finishers_lock:
                self._drag_finishers.pop(request.session, None)
            self.sessions.release(session)

        def run(job: Job):
            start = session.current
            generator = start.generator
            result = drag_lib.drag(
                generator, start.ws, handles, targets,
                mask=None if mask is None else mask.to(generator.w_avg.device), options=options,
                callback=lambda p: job.publish(dataclasses.replace(
                    p, preview=None if p.preview is None else p.preview.detach().cpu())),
                cancel=_AnySet(job.cancel, finish))
            if result.cancelled and job.cancel.is_set():
                raise JobCancelled()
            finished = ", finished early" if result.cancelled else ""
            description = (f"drag {len(handles)} point{'s' if len(handles) > 1 else ''} "
                           f"({method}, {result.steps} steps{finished})")
            revision = self.sessions.commit(session, result.ws, generator, description, start.truncation_psi)
            image, composited = self._outputs(session, revision, encoding, image=result.image)
            return pb.DragResponse(result=pb.DragResult(
                session=convert.session_message(session, self.sessions), image=image, composite=composited,
                handles=[pb.Point(x=x, y=y) for x, y in to_request_space(result.handles)], steps=result.steps,
                converged=result.converged, seconds=result.seconds, finished_early=result.cancelled))

        def progress_message(p: drag_lib.DragProgress):
            message = pb.DragProgress(step=p.step, max_steps=max_steps, max_distance=p.max_distance,
                                      mean_distance=p.mean_distance,
                                      handles=[pb.Point(x=x, y=y) for x, y in to_request_space(p.handles)])
            if p.preview is not None:
                message.preview.CopyFrom(encode_image(tensor_to_rgb(p.preview), pb.IMAGE_ENCODING_JPEG))
            return pb.DragResponse(progress=message)

        job = self._job("Drag", run, cleanup=release)
        yield from self._stream(job, context, progress_message)

    @_logged
    def FinishDrag(self, request, context):
        self.sessions.get(request.session)  # an unknown session is NOT_FOUND, as everywhere
        with self._finishers_lock:
            finish = self._drag_finishers.get(request.session)
        if finish is not None:
            finish.set()
        return pb.FinishDragResponse(finishing=finish is not None)

    # ---- history, rendering, latents

    @_logged
    def Revert(self, request, context):
        session = self.sessions.revert(request.session, request.revision)
        return pb.RevertResponse(session=convert.session_message(session, self.sessions))

    def _render_target(self, request) -> tuple[int, Session, Revision]:
        """(encoding, session, revision) of a Render-like request, refusing a composite without a layer."""
        encoding = convert.check_encoding(request.encoding, "encoding")
        session = self.sessions.get(request.session)
        revision = session.revision(request.revision)
        if request.composite and session.image is None:
            raise precondition(f"composite: {session.name} is a {session.kind} session and has no layer")
        return encoding, session, revision

    @_logged
    def Render(self, request, context):
        encoding, session, revision = self._render_target(request)

        def run(job: Job):
            image, layer = self._outputs(session, revision, encoding, with_composite=request.composite)
            response = pb.RenderResponse(image=image, revision=revision.id)
            if layer is not None:
                response.composite.CopyFrom(layer)
            return response
        return self._compute("Render", run, context)

    @_logged
    def ExportLatent(self, request, context):
        session = self.sessions.get(request.session)
        revision = session.revision(request.revision)
        latent = convert.latent_message(session, revision, self.registry.sha256(session.model))
        return pb.ExportLatentResponse(latent=latent, revision=revision.id)

    @_logged
    def ImportLatent(self, request, context):
        encoding = convert.check_encoding(request.result_encoding, "result_encoding")
        session = self.sessions.get(request.session)
        latent = request.latent
        if latent.model and latent.model != session.model:
            raise precondition(f"latent.model: the latent belongs to {latent.model}, {session.name} uses "
                               f"{session.model}")
        if latent.model_sha256 and latent.model_sha256 != self.registry.sha256(session.model):
            raise precondition("latent.model_sha256: the latent was made with a different model file")
        generator = session.current.generator
        ws = convert.latent_tensor(latent, "latent", generator.num_ws, generator.w_dim)
        return self._revise(session, request.expected_revision, encoding, pb.ImportLatentResponse, context,
                            lambda start: (ws, "imported latent", latent.truncation_psi or 1.0))

    def _revise(self, session: Session, expected_revision: int, encoding: int, response_type, context,
                change: Callable[[Revision], tuple[torch.Tensor, str, float]]):
        """Commit `change(current revision)` → (ws, description, psi) as a new revision, on the worker."""
        self.sessions.claim(session.name, expected_revision)

        def run(job: Job):
            start = session.current
            ws, description, psi = change(start)
            self.sessions.commit(session, ws.to(start.ws.device), start.generator, description, psi)
            return self._session_response(response_type, session, encoding)
        return self._compute(response_type.__name__, run, context, cleanup=lambda: self.sessions.release(session))

    # ---- latent operations

    def _principal_directions(self, model: str, generator) -> latent_ops.Directions:
        if model not in self._directions:
            self._directions[model] = self._direction_cache.get_or_compute(
                generator, self.registry.sha256(model), n_samples=self.config.direction_samples)
        return self._directions[model]

    def _session_on_model(self, name: str, field: str, model: str) -> Session:
        """Another session named in `field`, which must use `model` (latents of two models don't mix)."""
        other = self.sessions.get(name, field)
        if other.model != model:
            raise precondition(f"{field}: {other.name} uses {other.model}, not {model}")
        return other

    def _other_ws(self, session: Session, op: pb.StyleMixOperation, generator, field: str
                  ) -> Callable[[float], torch.Tensor]:
        """A function (run on the worker) giving the latent to mix rows from; a seed donor is mapped with
        the truncation psi passed to it."""
        other = op.WhichOneof("other")
        if other is None:
            raise invalid(f"{field}.other", "set seed, session or latent")
        if other == "session":
            donor = self._session_on_model(op.session, f"{field}.session", session.model)
            return lambda psi: donor.current.ws
        if other == "latent":
            ws = convert.latent_tensor(op.latent, f"{field}.latent", generator.num_ws, generator.w_dim)
            return lambda psi: ws
        if op.seed >= 2 ** 32:
            raise invalid(f"{field}.seed", f"must be below 2^32, got {op.seed}")

        def from_seed(psi: float) -> torch.Tensor:
            z = z_for_seed(op.seed, generator.z_dim)
            with torch.no_grad():
                return generator.mapping(z.to(generator.w_avg.device), None, truncation_psi=psi)
        return from_seed

    def _direction_step(self, session: Session, op: pb.DirectionOperation, field: str
                        ) -> Callable[[], latent_ops.DirectionStep]:
        """Validate a direction operation now; the returned function (worker only) looks the direction up."""
        rows = convert.enum_choice(op.rows, convert.ROW_NAMES, f"{field}.rows", pb.RowRange, default="all")
        alpha = convert.finite(op.alpha, f"{field}.alpha", -100, 100)
        if op.index < 0:
            raise invalid(f"{field}.index", f"must be >= 0, got {op.index}")

        def step() -> latent_ops.DirectionStep:
            directions = self._principal_directions(session.model, self.registry.load(session.model).G)
            if op.index >= len(directions):
                raise invalid(f"{field}.index", f"must be in 0..{len(directions) - 1}, got {op.index}")
            return latent_ops.DirectionStep(directions.direction(op.index), alpha, None if rows == "all" else rows)
        return step

    @staticmethod
    def _truncation_psi(op: pb.TruncationOperation, field: str) -> float:
        return convert.finite(op.truncation_psi, f"{field}.truncation_psi", -2, 2)

    @staticmethod
    def _check_retruncatable(start: Revision, field: str) -> None:
        if start.truncation_psi == 0:
            raise precondition(f"{field}: the latent is the average latent (psi 0); it cannot be re-truncated")

    @_logged
    def ApplyLatentOperation(self, request, context):
        encoding = convert.check_encoding(request.result_encoding, "result_encoding")
        session = self.sessions.get(request.session)
        generator = session.current.generator
        operation = request.WhichOneof("operation")
        if operation is None:
            raise invalid("operation", "set direction, style_mix or truncation")
        if operation == "direction":
            op = request.direction
            direction_step = self._direction_step(session, op, "direction")

            def change(start: Revision):
                step = direction_step()
                moved = latent_ops.apply_direction(start.ws.cpu(), step.direction, step.alpha_in_std, step.rows)
                return (moved, f"direction {op.index} × {step.alpha_in_std:g} ({step.rows or 'all'} rows)",
                        start.truncation_psi)
        elif operation == "style_mix":
            op = request.style_mix
            rows = convert.enum_choice(op.rows, convert.ROW_NAMES, "style_mix.rows", pb.RowRange)
            other_ws = self._other_ws(session, op, generator, "style_mix")

            def change(start: Revision):
                donor = other_ws(start.truncation_psi).to(start.ws.device)
                mixed = latent_ops.style_mix(start.ws, donor, rows=rows)
                return mixed, f"style mix ({rows or 'all'} rows)", start.truncation_psi
        else:
            psi = self._truncation_psi(request.truncation, "truncation")

            def change(start: Revision):
                self._check_retruncatable(start, "truncation")
                ws = latent_ops.retruncate(start.ws, generator.w_avg, start.truncation_psi, psi)
                return ws, f"truncation psi {start.truncation_psi:g} → {psi:g}", psi
        return self._revise(session, request.expected_revision, encoding, pb.ApplyLatentOperationResponse,
                            context, change)

    def _latent_edit(self, session: Session, message: pb.LatentEdit, generator
                     ) -> Callable[[Revision], tuple[latent_ops.LatentEdit, float]]:
        """Validate a `LatentEdit` now; the returned function (worker only) builds the core edit for a base
        revision and gives the psi of the result."""
        steps = [self._direction_step(session, op, f"edit.directions[{i}]")
                 for i, op in enumerate(message.directions)]
        psi_new = (self._truncation_psi(message.truncation, "edit.truncation")
                   if message.HasField("truncation") else None)
        mix_rows, donor = None, None
        if message.HasField("style_mix"):
            mix_rows = convert.enum_choice(message.style_mix.rows, convert.ROW_NAMES, "edit.style_mix.rows",
                                           pb.RowRange)
            donor = self._other_ws(session, message.style_mix, generator, "edit.style_mix")
        toward = None
        if message.HasField("interpolation"):
            op = message.interpolation
            t = convert.finite(op.t, "edit.interpolation.t", 0, 1)
            target = op.WhichOneof("to")
            if target is None:
                raise invalid("edit.interpolation.to", "set session or latent")
            if target == "session":
                other = self._session_on_model(op.session, "edit.interpolation.session", session.model)
                toward = (lambda: other.current.ws, t)
            else:
                ws = convert.latent_tensor(op.latent, "edit.interpolation.latent", generator.num_ws,
                                           generator.w_dim)
                toward = (lambda: ws, t)

        def build(start: Revision) -> tuple[latent_ops.LatentEdit, float]:
            psi = start.truncation_psi
            edit = latent_ops.LatentEdit(directions=[step() for step in steps])
            if psi_new is not None:
                self._check_retruncatable(start, "edit.truncation")
                edit.truncation, psi = (start.truncation_psi, psi_new), psi_new
            if donor is not None:
                edit.mix_ws, edit.mix_rows = donor(psi), mix_rows
            if toward is not None:
                edit.toward_ws, edit.toward_t = toward[0](), toward[1]
            return edit, psi
        return build

    @_logged
    def RenderLatentEdit(self, request, context):
        encoding, session, base = self._render_target(request)
        build = self._latent_edit(session, request.edit, base.generator)
        sha256 = self.registry.sha256(session.model) if request.include_latent else ""

        def run(job: Job):
            edit, psi = build(base)
            ws = latent_ops.apply_edit(base.ws, edit, base.generator.w_avg)
            edited = Revision(base.id, ws, base.generator, "", psi)
            image, layer = self._outputs(session, edited, encoding, with_composite=request.composite)
            response = pb.RenderLatentEditResponse(image=image, revision=base.id)
            if layer is not None:
                response.composite.CopyFrom(layer)
            if request.include_latent:
                response.latent.CopyFrom(convert.latent_message(session, edited, sha256))
            return response
        return self._compute("RenderLatentEdit", run, context)

    @_logged
    def Interpolate(self, request, context):
        encoding = convert.check_encoding(request.encoding, "encoding")
        space = convert.enum_choice(request.latent_space, LATENT_SPACES, "latent_space", pb.LatentSpace,
                                    default="w+")
        if not 2 <= request.frames <= self.config.max_interpolation_frames:
            raise invalid("frames", f"must be in 2..{self.config.max_interpolation_frames}, got {request.frames}")
        session = self.sessions.get(request.session)
        generator = session.current.generator
        target = request.WhichOneof("to")
        if target is None:
            raise invalid("to", "set other_session or latent")
        if target == "other_session":
            other = self._session_on_model(request.other_session, "other_session", session.model)
            ws_b = other.current.ws
        else:
            ws_b = convert.latent_tensor(request.latent, "latent", generator.num_ws, generator.w_dim)
        ws_a = session.current.ws

        def run(job: Job):
            frames = latent_ops.interpolate(ws_a, ws_b.to(ws_a.device), request.frames, space)
            images = [encode_image(tensor_to_rgb(render(generator, frame[None])), encoding) for frame in frames]
            return pb.InterpolateResponse(frames=images)
        return self._compute("Interpolate", run, context)
