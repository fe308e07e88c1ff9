"""`EngineClient`: the one client of the latentdrag engine, used by the CLI, both editor plugins and the
tests. Needs only grpcio and protobuf (it runs on Debian's grpcio 1.51 / protobuf 4.21 inside Krita and
GIMP), and only relative imports, so plugins can vendor this package under any name.
"""
from __future__ import annotations

import threading
from typing import Callable, Iterable, Optional, Sequence, Tuple, Union

import grpc

from ._gen.latentdrag.v1 import engine_pb2 as pb
from ._gen.latentdrag.v1 import engine_pb2_grpc as pb_grpc
from .errors import EngineError, error_from_rpc
from .types import (BoxXYWH, DragOutcome, DragProgress, ImageData, InversionProgress, LatentEditOutcome,
                    LatentEditSpec, LatentInfo, ModelInfo, PointXY, RawImage, RevisionInfo, ServerInfo, SessionInfo,
                    SessionOutcome)

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

ImageInput = Union[bytes, RawImage]

_PIXEL_FORMATS = {"RGBA8": pb.PIXEL_FORMAT_RGBA8, "RGB8": pb.PIXEL_FORMAT_RGB8, "GRAY8": pb.PIXEL_FORMAT_GRAY8}
_ENCODINGS = {"png": pb.IMAGE_ENCODING_PNG, "jpeg": pb.IMAGE_ENCODING_JPEG, "raw": pb.IMAGE_ENCODING_RAW_RGBA8}
_METHODS = {"draggan": pb.DRAG_METHOD_DRAGGAN, "freedrag": pb.DRAG_METHOD_FREEDRAG}
_DRAG_PRESETS = {"fast": pb.DRAG_PRESET_FAST, "published": pb.DRAG_PRESET_PUBLISHED}
_INVERSION_PRESETS = {"fast": pb.INVERSION_PRESET_FAST, "faithful": pb.INVERSION_PRESET_FAITHFUL}
_COORDINATES = {"model": pb.COORDINATE_SPACE_MODEL, "layer": pb.COORDINATE_SPACE_LAYER}
_LATENT_SPACES = {"w": pb.LATENT_SPACE_W, "w+": pb.LATENT_SPACE_W_PLUS}
_ROWS = {"all": pb.ROW_RANGE_ALL, "coarse": pb.ROW_RANGE_COARSE, "middle": pb.ROW_RANGE_MIDDLE,
         "fine": pb.ROW_RANGE_FINE}
_SESSION_KINDS = {pb.SESSION_KIND_SEED: "seed", pb.SESSION_KIND_LATENT: "latent", pb.SESSION_KIND_IMAGE: "image"}
_PIXEL_FORMAT_NAMES = {value: name for name, value in _PIXEL_FORMATS.items()}


def _choice(table: dict, value: str, argument: str) -> int:
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"{argument} must be one of {', '.join(table)}; got {value!r}") from None


def _sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError("image bytes are not PNG, JPEG or WebP; pass a RawImage for raw pixels")


def image_message(image: ImageInput, argument: str = "image") -> pb.Image:
    """A request `Image` from encoded bytes (type sniffed) or a `RawImage`."""
    if isinstance(image, RawImage):
        return pb.Image(data=bytes(image.data), width=image.width, height=image.height,
                        pixel_format=_choice(_PIXEL_FORMATS, image.pixel_format, f"{argument}.pixel_format"))
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        return pb.Image(data=data, mime_type=_sniff_mime(data))
    raise TypeError(f"{argument} must be encoded image bytes or a RawImage, not {type(image).__name__}")


def _image(message: pb.Image) -> Optional[ImageData]:
    if not message.data:
        return None
    return ImageData(data=message.data, mime_type=message.mime_type, width=message.width,
                     height=message.height, pixel_format=_PIXEL_FORMAT_NAMES.get(message.pixel_format, ""))


def _points(points: Iterable[PointXY], argument: str) -> list:
    result = []
    for index, point in enumerate(points):
        try:
            x, y = point
            result.append(pb.Point(x=float(x), y=float(y)))
        except (TypeError, ValueError):
            raise ValueError(f"{argument}[{index}] must be an (x, y) pair of numbers; got {point!r}") from None
    return result


def _xy(points: Iterable[pb.Point]) -> Tuple[PointXY, ...]:
    return tuple((p.x, p.y) for p in points)


def session_info(message: pb.Session) -> SessionInfo:
    box = message.region_box
    return SessionInfo(
        name=message.name, model=message.model, kind=_SESSION_KINDS.get(message.kind, "unknown"),
        revision=message.revision,
        revisions=tuple(RevisionInfo(r.id, r.description, r.create_time_unix_ms) for r in message.revisions),
        resolution=message.resolution, layer_width=message.layer_width, layer_height=message.layer_height,
        region_box=(box.x, box.y, box.width, box.height) if message.HasField("region_box") else None,
        expire_time_unix_ms=message.expire_time_unix_ms, busy=message.busy)


def _model_info(message: pb.Model) -> ModelInfo:
    return ModelInfo(name=message.name, display_name=message.display_name, architecture=message.architecture,
                     resolution=message.resolution, num_ws=message.num_ws, w_dim=message.w_dim,
                     has_discriminator=message.has_discriminator, license=message.license,
                     description=message.description, provenance=message.provenance,
                     is_default=message.is_default, loaded=message.loaded)


def describe_latent(blob: bytes) -> LatentInfo:
    """Model, shape, truncation ψ and region of a latent blob from `export_latent` (no engine needed)."""
    latent = EngineClient._parse_latent(blob)
    shape = list(latent.shape)
    if len(shape) != 3 or shape[0] != 1:
        raise ValueError(f"latent has shape {shape}, expected [1, num_ws, w_dim]")
    box = latent.region_box
    region = (box.x, box.y, box.width, box.height) if latent.HasField("region_box") else None
    return LatentInfo(model=latent.model, num_ws=shape[1], w_dim=shape[2],
                      truncation_psi=latent.truncation_psi or 1.0, region_box=region)


class _EventWatcher:
    """Runs `action` once as soon as `event` is set while a streaming call runs, even while no message
    arrives (cancelling the call, or asking the engine to finish the drag)."""

    def __init__(self, event, action: Callable[[], object], name: str) -> None:
        self._event = event
        self._action = action
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"latentdrag-{name}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.02):
            if self._event.is_set():
                try:
                    self._action()
                except EngineError:
                    pass  # the engine is gone or the job ended: the stream itself reports what happened
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class EngineClient:
    """Talks to one engine. Every failure raises `EngineError`; a cancelled job raises it with code
    "CANCELLED" (the session then keeps its last committed revision).

    `address` is "host:port" or "unix:/path/to/socket"; `token` is sent as a bearer token (needed when the
    engine listens on a non-loopback address); `timeout` bounds unary calls in seconds, streaming jobs run
    without a deadline unless `stream_timeout` is given.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, token: Optional[str] = None, timeout: float = 30.0,
                 stream_timeout: Optional[float] = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.address = address
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        options = [("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes)]
        self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.EngineStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "EngineClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---- plumbing

    def _unary(self, method: str, request, timeout: Optional[float] = None):
        try:
            return getattr(self._stub, method)(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise error_from_rpc(error, self.address) from None

    def _stream(self, method: str, request, on_event: Callable, cancel_event=None,
                finish: Optional[tuple] = None):
        """Run a progress stream; `on_event(kind, message)` sees every progress message; returns the result.
        `finish` = (event, action): run `action` once when `event` is set (FinishDrag)."""
        call = getattr(self._stub, method)(request, timeout=self.stream_timeout, metadata=self._metadata)
        watchers = [] if cancel_event is None else [_EventWatcher(cancel_event, call.cancel, "cancel")]
        if finish is not None:
            watchers.append(_EventWatcher(*finish, "finish"))
        result = None
        try:
            for response in call:
                kind = response.WhichOneof("event")
                if kind == "result":
                    result = response.result
                elif kind == "progress":
                    on_event(response.progress)
        except grpc.RpcError as error:
            if cancel_event is not None and cancel_event.is_set() and error.code() == grpc.StatusCode.CANCELLED:
                raise EngineError("CANCELLED", "cancelled; the session keeps its last revision") from None
            raise error_from_rpc(error, self.address) from None
        except BaseException:
            call.cancel()
            raise
        finally:
            for watcher in watchers:
                watcher.stop()
        if result is None:
            raise EngineError("INTERNAL", f"the engine ended {method} without a result")
        return result

    # ---- server and models

    def health(self) -> ServerInfo:
        """Engine version, device and load; raises EngineError("UNAVAILABLE") when no engine answers."""
        r = self._unary("GetServerInfo", pb.GetServerInfoRequest())
        limits = {f.name: value for f, value in r.limits.ListFields()}
        return ServerInfo(version=r.version, device=r.device, serving=r.serving, queued_jobs=r.queued_jobs,
                          busy=r.busy, session_count=r.session_count, default_model=r.default_model,
                          limits=limits)

    def list_models(self) -> list:
        """`ModelInfo` for every model the engine offers, the default one flagged `is_default`."""
        return [_model_info(m) for m in self._unary("ListModels", pb.ListModelsRequest()).models]

    # ---- sessions

    def create_session_from_seed(self, seed: int, psi: float = 0.7, model: Optional[str] = None,
                                 result_format: str = "png") -> SessionOutcome:
        request = pb.CreateSessionRequest(model=model or "", seed=pb.SeedSource(seed=seed, truncation_psi=psi),
                                          result_encoding=_choice(_ENCODINGS, result_format, "result_format"))
        return self._session_outcome(self._unary("CreateSession", request))

    def create_session_from_latent(self, latent: bytes, layer: Optional[ImageInput] = None,
                                   model: Optional[str] = None, result_format: str = "png") -> SessionOutcome:
        """Resume from a blob made by `export_latent`; with `layer` the session is re-attached to that
        layer (an image session) without inverting again."""
        source = pb.LatentSource(latent=self._parse_latent(latent))
        if layer is not None:
            source.layer.CopyFrom(image_message(layer, "layer"))
        request = pb.CreateSessionRequest(model=model or "", latent=source,
                                          result_encoding=_choice(_ENCODINGS, result_format, "result_format"))
        return self._session_outcome(self._unary("CreateSession", request))

    def create_session_from_image(self, png_or_raw: ImageInput, selection: Optional[BoxXYWH] = None,
                                  mask: Optional[ImageInput] = None, preset: str = "fast",
                                  model: Optional[str] = None, preview_every: int = 0,
                                  on_progress: Optional[Callable[[InversionProgress], None]] = None,
                                  cancel_event=None, result_format: str = "png") -> SessionOutcome:
        """Invert a layer (optionally only the `selection` box (x, y, w, h) or `mask`) into a new session."""
        request = pb.CreateSessionFromImageRequest(
            model=model or "", image=image_message(png_or_raw, "png_or_raw"),
            preset=_choice(_INVERSION_PRESETS, preset, "preset"), preview_every=preview_every,
            result_encoding=_choice(_ENCODINGS, result_format, "result_format"))
        if selection is not None:
            x, y, w, h = selection
            request.selection.CopyFrom(pb.Box(x=x, y=y, width=w, height=h))
        if mask is not None:
            request.mask.CopyFrom(image_message(mask, "mask"))

        def on_event(progress):
            if on_progress is not None:
                on_progress(InversionProgress(progress.step, progress.total_steps, progress.stage,
                                              progress.loss, _image(progress.preview)))

        result = self._stream("CreateSessionFromImage", request, on_event, cancel_event)
        return SessionOutcome(session_info(result.session), _image(result.image), _image(result.composite),
                              psnr=result.psnr, seconds=result.seconds)

    def get_session(self, session: str) -> SessionInfo:
        return session_info(self._unary("GetSession", pb.GetSessionRequest(name=session)).session)

    def list_sessions(self) -> list:
        return [session_info(s) for s in self._unary("ListSessions", pb.ListSessionsRequest()).sessions]

    def delete_session(self, session: str) -> None:
        self._unary("DeleteSession", pb.DeleteSessionRequest(name=session))

    # ---- editing

    def drag(self, session: str, handles: Sequence[PointXY], targets: Sequence[PointXY],
             mask: Optional[ImageInput] = None, method: str = "draggan", max_steps: int = 0,
             preview_every: int = 0, on_progress: Optional[Callable[[DragProgress], None]] = None,
             cancel_event=None, coordinates: str = "model", preset: str = "fast", latent_space: str = "w+",
             expected_revision: int = 0, seed: int = 0, result_format: str = "png",
             finish_event=None) -> DragOutcome:
        """Drag `handles` to `targets` ((x, y) pixels in `coordinates` "model" or "layer" space). Progress
        goes to `on_progress`; setting `cancel_event` (anything with `is_set()`) cancels the job and
        discards the drag; setting `finish_event` stops it where it is and commits that (`finish_drag`)."""
        request = pb.DragRequest(
            session=session, handles=_points(handles, "handles"), targets=_points(targets, "targets"),
            coordinates=_choice(_COORDINATES, coordinates, "coordinates"),
            method=_choice(_METHODS, method, "method"), preset=_choice(_DRAG_PRESETS, preset, "preset"),
            max_steps=max_steps, preview_every=preview_every,
            result_encoding=_choice(_ENCODINGS, result_format, "result_format"),
            expected_revision=expected_revision, latent_space=_choice(_LATENT_SPACES, latent_space, "latent_space"),
            seed=seed)
        if mask is not None:
            request.mask.CopyFrom(image_message(mask, "mask"))

        def on_event(progress):
            if on_progress is not None:
                on_progress(DragProgress(progress.step, progress.max_steps, _xy(progress.handles),
                                         progress.max_distance, progress.mean_distance, _image(progress.preview)))

        finish = None if finish_event is None else (finish_event, lambda: self.finish_drag(session))
        result = self._stream("Drag", request, on_event, cancel_event, finish)
        return DragOutcome(session_info(result.session), _image(result.image), _image(result.composite),
                           _xy(result.handles), result.steps, result.converged, result.seconds,
                           result.finished_early)

    def finish_drag(self, session: str) -> bool:
        """Stop the drag running on `session` at its current step and commit what it reached (its `drag`
        call returns that, `finished_early` set). False: no drag was running there."""
        return self._unary("FinishDrag", pb.FinishDragRequest(session=session)).finishing

    def revert(self, session: str, revision: int) -> SessionInfo:
        """Make `revision` current again; later revisions are discarded."""
        return session_info(self._unary("Revert", pb.RevertRequest(session=session, revision=revision)).session)

    def render(self, session: str, revision: int = 0, composite: bool = False,
               result_format: str = "png") -> Tuple[ImageData, Optional[ImageData]]:
        """(image at model resolution, layer composite or None) of a revision (0 = current)."""
        r = self._unary("Render", pb.RenderRequest(session=session, revision=revision, composite=composite,
                                                   encoding=_choice(_ENCODINGS, result_format, "result_format")))
        return _image(r.image), _image(r.composite)

    def export_latent(self, session: str, revision: int = 0) -> bytes:
        """An opaque blob (a serialized `latentdrag.v1.Latent`) to store in a document."""
        r = self._unary("ExportLatent", pb.ExportLatentRequest(session=session, revision=revision))
        return r.latent.SerializeToString()

    def import_latent(self, session: str, latent: bytes, expected_revision: int = 0,
                      result_format: str = "png") -> SessionOutcome:
        """Replace the session's latent by a blob from `export_latent`, as a new revision."""
        request = pb.ImportLatentRequest(session=session, latent=self._parse_latent(latent),
                                         expected_revision=expected_revision,
                                         result_encoding=_choice(_ENCODINGS, result_format, "result_format"))
        return self._session_outcome(self._unary("ImportLatent", request))

    def apply_direction(self, session: str, index: int, alpha: float, rows: str = "all",
                        expected_revision: int = 0, result_format: str = "png") -> SessionOutcome:
        """Move along principal direction `index` by `alpha` standard deviations."""
        op = pb.DirectionOperation(index=index, alpha=alpha, rows=_choice(_ROWS, rows, "rows"))
        return self._latent_operation(session, expected_revision, result_format, direction=op)

    def style_mix(self, session: str, rows: str, seed: Optional[int] = None, other_session: Optional[str] = None,
                  latent: Optional[bytes] = None, expected_revision: int = 0,
                  result_format: str = "png") -> SessionOutcome:
        """Take `rows` from a seed, another session or a latent blob (exactly one of them)."""
        given = [name for name, value in (("seed", seed), ("other_session", other_session), ("latent", latent))
                 if value is not None]
        if len(given) != 1:
            raise ValueError(f"style_mix needs exactly one of seed, other_session, latent; got {given or 'none'}")
        op = pb.StyleMixOperation(rows=_choice(_ROWS, rows, "rows"))
        if seed is not None:
            op.seed = seed
        elif other_session is not None:
            op.session = other_session
        else:
            op.latent.CopyFrom(self._parse_latent(latent))
        return self._latent_operation(session, expected_revision, result_format, style_mix=op)

    def retruncate(self, session: str, psi: float, expected_revision: int = 0,
                   result_format: str = "png") -> SessionOutcome:
        """Re-apply truncation with a new psi to the session's latent."""
        op = pb.TruncationOperation(truncation_psi=psi)
        return self._latent_operation(session, expected_revision, result_format, truncation=op)

    def interpolate(self, session: str, other_session: str, frames: int, latent_space: str = "w+",
                    result_format: str = "png") -> list:
        """`frames` images from `session` to `other_session` (both ends included)."""
        request = pb.InterpolateRequest(session=session, other_session=other_session, frames=frames,
                                        latent_space=_choice(_LATENT_SPACES, latent_space, "latent_space"),
                                        encoding=_choice(_ENCODINGS, result_format, "result_format"))
        return [_image(frame) for frame in self._unary("Interpolate", request).frames]

    def render_latent_edit(self, session: str, edit: LatentEditSpec, revision: int = 0, composite: bool = False,
                           include_latent: bool = False, result_format: str = "png") -> LatentEditOutcome:
        """Render `edit` applied to a revision (0 = current) without committing anything; with
        `include_latent` also return the edited latent blob (storable like `export_latent`'s)."""
        request = pb.RenderLatentEditRequest(session=session, revision=revision, edit=self._edit_message(edit),
                                             composite=composite, include_latent=include_latent,
                                             encoding=_choice(_ENCODINGS, result_format, "result_format"))
        r = self._unary("RenderLatentEdit", request)
        latent = r.latent.SerializeToString() if r.HasField("latent") else None
        return LatentEditOutcome(_image(r.image), _image(r.composite), latent, r.revision)

    # ---- helpers

    def _edit_message(self, edit: LatentEditSpec) -> pb.LatentEdit:
        message = pb.LatentEdit(directions=[
            pb.DirectionOperation(index=d.index, alpha=d.alpha, rows=_choice(_ROWS, d.rows, f"directions[{i}].rows"))
            for i, d in enumerate(edit.directions)])
        if edit.truncation_psi is not None:
            message.truncation.truncation_psi = edit.truncation_psi
        donors = [(name, value) for name, value in (("mix_seed", edit.mix_seed), ("mix_session", edit.mix_session),
                                                    ("mix_latent", edit.mix_latent)) if value is not None]
        if edit.mix_rows:
            if len(donors) != 1:
                raise ValueError(f"a style mix needs exactly one of mix_seed, mix_session, mix_latent; got "
                                 f"{[name for name, _ in donors] or 'none'}")
            mix = message.style_mix
            mix.rows = _choice(_ROWS, edit.mix_rows, "mix_rows")
            name, value = donors[0]
            if name == "mix_seed":
                mix.seed = value
            elif name == "mix_session":
                mix.session = value
            else:
                mix.latent.CopyFrom(self._parse_latent(value))
        elif donors:
            raise ValueError(f"{donors[0][0]} is set but mix_rows is empty; set the rows to mix")
        if edit.toward_session is not None and edit.toward_latent is not None:
            raise ValueError("set at most one of toward_session and toward_latent")
        if edit.toward_session is not None:
            message.interpolation.session = edit.toward_session
            message.interpolation.t = edit.toward_t
        elif edit.toward_latent is not None:
            message.interpolation.latent.CopyFrom(self._parse_latent(edit.toward_latent))
            message.interpolation.t = edit.toward_t
        return message

    def _latent_operation(self, session: str, expected_revision: int, result_format: str, **operation):
        request = pb.ApplyLatentOperationRequest(session=session, expected_revision=expected_revision,
                                                 result_encoding=_choice(_ENCODINGS, result_format,
                                                                         "result_format"), **operation)
        return self._session_outcome(self._unary("ApplyLatentOperation", request))

    @staticmethod
    def _parse_latent(blob: bytes) -> pb.Latent:
        latent = pb.Latent()
        try:
            latent.ParseFromString(bytes(blob))
        except Exception:
            raise ValueError("latent is not a blob made by export_latent") from None
        return latent

    @staticmethod
    def _session_outcome(response) -> SessionOutcome:
        return SessionOutcome(session_info(response.session), _image(response.image), _image(response.composite))
