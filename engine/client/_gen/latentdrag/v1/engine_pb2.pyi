from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

COORDINATE_SPACE_LAYER: CoordinateSpace
COORDINATE_SPACE_MODEL: CoordinateSpace
COORDINATE_SPACE_UNSPECIFIED: CoordinateSpace
DESCRIPTOR: _descriptor.FileDescriptor
DRAG_METHOD_DRAGGAN: DragMethod
DRAG_METHOD_FREEDRAG: DragMethod
DRAG_METHOD_UNSPECIFIED: DragMethod
DRAG_PRESET_FAST: DragPreset
DRAG_PRESET_PUBLISHED: DragPreset
DRAG_PRESET_UNSPECIFIED: DragPreset
DTYPE_FLOAT32: DType
DTYPE_UNSPECIFIED: DType
IMAGE_ENCODING_JPEG: ImageEncoding
IMAGE_ENCODING_PNG: ImageEncoding
IMAGE_ENCODING_RAW_RGBA8: ImageEncoding
IMAGE_ENCODING_UNSPECIFIED: ImageEncoding
INVERSION_PRESET_FAITHFUL: InversionPreset
INVERSION_PRESET_FAST: InversionPreset
INVERSION_PRESET_UNSPECIFIED: InversionPreset
LATENT_SPACE_UNSPECIFIED: LatentSpace
LATENT_SPACE_W: LatentSpace
LATENT_SPACE_W_PLUS: LatentSpace
PIXEL_FORMAT_GRAY8: PixelFormat
PIXEL_FORMAT_RGB8: PixelFormat
PIXEL_FORMAT_RGBA8: PixelFormat
PIXEL_FORMAT_UNSPECIFIED: PixelFormat
ROW_RANGE_ALL: RowRange
ROW_RANGE_COARSE: RowRange
ROW_RANGE_FINE: RowRange
ROW_RANGE_MIDDLE: RowRange
ROW_RANGE_UNSPECIFIED: RowRange
SESSION_KIND_IMAGE: SessionKind
SESSION_KIND_LATENT: SessionKind
SESSION_KIND_SEED: SessionKind
SESSION_KIND_UNSPECIFIED: SessionKind

class ApplyLatentOperationRequest(_message.Message):
    __slots__ = ["direction", "expected_revision", "result_encoding", "session", "style_mix", "truncation"]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    RESULT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    STYLE_MIX_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    direction: DirectionOperation
    expected_revision: int
    result_encoding: ImageEncoding
    session: str
    style_mix: StyleMixOperation
    truncation: TruncationOperation
    def __init__(self, session: _Optional[str] = ..., expected_revision: _Optional[int] = ..., result_encoding: _Optional[_Union[ImageEncoding, str]] = ..., direction: _Optional[_Union[DirectionOperation, _Mapping]] = ..., style_mix: _Optional[_Union[StyleMixOperation, _Mapping]] = ..., truncation: _Optional[_Union[TruncationOperation, _Mapping]] = ...) -> None: ...

class ApplyLatentOperationResponse(_message.Message):
    __slots__ = ["composite", "image", "session"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    composite: Image
    image: Image
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., composite: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ["height", "width", "x", "y"]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    height: int
    width: int
    x: int
    y: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class CreateSessionFromImageRequest(_message.Message):
    __slots__ = ["image", "mask", "model", "preset", "preview_every", "result_encoding", "selection"]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_EVERY_FIELD_NUMBER: _ClassVar[int]
    RESULT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    image: Image
    mask: Image
    model: str
    preset: InversionPreset
    preview_every: int
    result_encoding: ImageEncoding
    selection: Box
    def __init__(self, model: _Optional[str] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., selection: _Optional[_Union[Box, _Mapping]] = ..., mask: _Optional[_Union[Image, _Mapping]] = ..., preset: _Optional[_Union[InversionPreset, str]] = ..., preview_every: _Optional[int] = ..., result_encoding: _Optional[_Union[ImageEncoding, str]] = ...) -> None: ...

class CreateSessionFromImageResponse(_message.Message):
    __slots__ = ["progress", "result"]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: InversionProgress
    result: InversionResult
    def __init__(self, progress: _Optional[_Union[InversionProgress, _Mapping]] = ..., result: _Optional[_Union[InversionResult, _Mapping]] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ["latent", "model", "result_encoding", "seed"]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESULT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    latent: LatentSource
    model: str
    result_encoding: ImageEncoding
    seed: SeedSource
    def __init__(self, model: _Optional[str] = ..., seed: _Optional[_Union[SeedSource, _Mapping]] = ..., latent: _Optional[_Union[LatentSource, _Mapping]] = ..., result_encoding: _Optional[_Union[ImageEncoding, str]] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ["composite", "image", "session"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    composite: Image
    image: Image
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., composite: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DirectionOperation(_message.Message):
    __slots__ = ["alpha", "index", "rows"]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    alpha: float
    index: int
    rows: RowRange
    def __init__(self, index: _Optional[int] = ..., alpha: _Optional[float] = ..., rows: _Optional[_Union[RowRange, str]] = ...) -> None: ...

class DragProgress(_message.Message):
    __slots__ = ["handles", "max_distance", "max_steps", "mean_distance", "preview", "step"]
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MEAN_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    handles: _containers.RepeatedCompositeFieldContainer[Point]
    max_distance: float
    max_steps: int
    mean_distance: float
    preview: Image
    step: int
    def __init__(self, step: _Optional[int] = ..., max_steps: _Optional[int] = ..., handles: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., max_distance: _Optional[float] = ..., mean_distance: _Optional[float] = ..., preview: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class DragRequest(_message.Message):
    __slots__ = ["coordinates", "expected_revision", "handles", "latent_space", "mask", "max_steps", "method", "preset", "preview_every", "result_encoding", "seed", "session", "targets"]
    COORDINATES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    LATENT_SPACE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_EVERY_FIELD_NUMBER: _ClassVar[int]
    RESULT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    coordinates: CoordinateSpace
    expected_revision: int
    handles: _containers.RepeatedCompositeFieldContainer[Point]
    latent_space: LatentSpace
    mask: Image
    max_steps: int
    method: DragMethod
    preset: DragPreset
    preview_every: int
    result_encoding: ImageEncoding
    seed: int
    session: str
    targets: _containers.RepeatedCompositeFieldContainer[Point]
    def __init__(self, session: _Optional[str] = ..., handles: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., targets: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., coordinates: _Optional[_Union[CoordinateSpace, str]] = ..., mask: _Optional[_Union[Image, _Mapping]] = ..., method: _Optional[_Union[DragMethod, str]] = ..., preset: _Optional[_Union[DragPreset, str]] = ..., max_steps: _Optional[int] = ..., preview_every: _Optional[int] = ..., result_encoding: _Optional[_Union[ImageEncoding, str]] = ..., expected_revision: _Optional[int] = ..., latent_space: _Optional[_Union[LatentSpace, str]] = ..., seed: _Optional[int] = ...) -> None: ...

class DragResponse(_message.Message):
    __slots__ = ["progress", "result"]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: DragProgress
    result: DragResult
    def __init__(self, progress: _Optional[_Union[DragProgress, _Mapping]] = ..., result: _Optional[_Union[DragResult, _Mapping]] = ...) -> None: ...

class DragResult(_message.Message):
    __slots__ = ["composite", "converged", "finished_early", "handles", "image", "seconds", "session", "steps"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    CONVERGED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_EARLY_FIELD_NUMBER: _ClassVar[int]
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    composite: Image
    converged: bool
    finished_early: bool
    handles: _containers.RepeatedCompositeFieldContainer[Point]
    image: Image
    seconds: float
    session: Session
    steps: int
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., composite: _Optional[_Union[Image, _Mapping]] = ..., handles: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., steps: _Optional[int] = ..., converged: bool = ..., seconds: _Optional[float] = ..., finished_early: bool = ...) -> None: ...

class ExportLatentRequest(_message.Message):
    __slots__ = ["revision", "session"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    session: str
    def __init__(self, session: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class ExportLatentResponse(_message.Message):
    __slots__ = ["latent", "revision"]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    latent: Latent
    revision: int
    def __init__(self, latent: _Optional[_Union[Latent, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class FinishDragRequest(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class FinishDragResponse(_message.Message):
    __slots__ = ["finishing"]
    FINISHING_FIELD_NUMBER: _ClassVar[int]
    finishing: bool
    def __init__(self, finishing: bool = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ["busy", "default_model", "device", "limits", "queued_jobs", "serving", "session_count", "version"]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_JOBS_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    SESSION_COUNT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    busy: bool
    default_model: str
    device: str
    limits: Limits
    queued_jobs: int
    serving: bool
    session_count: int
    version: str
    def __init__(self, version: _Optional[str] = ..., device: _Optional[str] = ..., serving: bool = ..., queued_jobs: _Optional[int] = ..., busy: bool = ..., session_count: _Optional[int] = ..., default_model: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ["data", "height", "mime_type", "pixel_format", "width"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    PIXEL_FORMAT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    height: int
    mime_type: str
    pixel_format: PixelFormat
    width: int
    def __init__(self, data: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., pixel_format: _Optional[_Union[PixelFormat, str]] = ...) -> None: ...

class ImportLatentRequest(_message.Message):
    __slots__ = ["expected_revision", "latent", "result_encoding", "session"]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    RESULT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    expected_revision: int
    latent: Latent
    result_encoding: ImageEncoding
    session: str
    def __init__(self, session: _Optional[str] = ..., latent: _Optional[_Union[Latent, _Mapping]] = ..., expected_revision: _Optional[int] = ..., result_encoding: _Optional[_Union[ImageEncoding, str]] = ...) -> None: ...

class ImportLatentResponse(_message.Message):
    __slots__ = ["composite", "image", "session"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    composite: Image
    image: Image
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., composite: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class InterpolateRequest(_message.Message):
    __slots__ = ["encoding", "frames", "latent", "latent_space", "other_session", "session"]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    LATENT_SPACE_FIELD_NUMBER: _ClassVar[int]
    OTHER_SESSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    encoding: ImageEncoding
    frames: int
    latent: Latent
    latent_space: LatentSpace
    other_session: str
    session: str
    def __init__(self, session: _Optional[str] = ..., other_session: _Optional[str] = ..., latent: _Optional[_Union[Latent, _Mapping]] = ..., frames: _Optional[int] = ..., latent_space: _Optional[_Union[LatentSpace, str]] = ..., encoding: _Optional[_Union[ImageEncoding, str]] = ...) -> None: ...

class InterpolateResponse(_message.Message):
    __slots__ = ["frames"]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    frames: _containers.RepeatedCompositeFieldContainer[Image]
    def __init__(self, frames: _Optional[_Iterable[_Union[Image, _Mapping]]] = ...) -> None: ...

class InterpolationOperation(_message.Message):
    __slots__ = ["latent", "session", "t"]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    latent: Latent
    session: str
    t: float
    def __init__(self, session: _Optional[str] = ..., latent: _Optional[_Union[Latent, _Mapping]] = ..., t: _Optional[float] = ...) -> None: ...

class InversionProgress(_message.Message):
    __slots__ = ["loss", "preview", "stage", "step", "total_steps"]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    loss: float
    preview: Image
    stage: str
    step: int
    total_steps: int
    def __init__(self, step: _Optional[int] = ..., total_steps: _Optional[int] = ..., stage: _Optional[str] = ..., loss: _Optional[float] = ..., preview: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class InversionResult(_message.Message):
    __slots__ = ["composite", "image", "psnr", "seconds", "session"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PSNR_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    composite: Image
    image: Image
    psnr: float
    seconds: float
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., composite: _Optional[_Union[Image, _Mapping]] = ..., psnr: _Optional[float] = ..., seconds: _Optional[float] = ...) -> None: ...

class Latent(_message.Message):
    __slots__ = ["data", "dtype", "layer_height", "layer_width", "model", "model_sha256", "region_box", "shape", "truncation_psi"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LAYER_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAYER_WIDTH_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_SHA256_FIELD_NUMBER: _ClassVar[int]
    REGION_BOX_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    dtype: DType
    layer_height: int
    layer_width: int
    model: str
    model_sha256: str
    region_box: Box
    shape: _containers.RepeatedScalarFieldContainer[int]
    truncation_psi: float
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[_Union[DType, str]] = ..., data: _Optional[bytes] = ..., model: _Optional[str] = ..., model_sha256: _Optional[str] = ..., region_box: _Optional[_Union[Box, _Mapping]] = ..., layer_width: _Optional[int] = ..., layer_height: _Optional[int] = ..., truncation_psi: _Optional[float] = ...) -> None: ...

class LatentEdit(_message.Message):
    __slots__ = ["directions", "interpolation", "style_mix", "truncation"]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATION_FIELD_NUMBER: _ClassVar[int]
    STYLE_MIX_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    directions: _containers.RepeatedCompositeFieldContainer[DirectionOperation]
    interpolation: InterpolationOperation
    style_mix: StyleMixOperation
    truncation: TruncationOperation
    def __init__(self, directions: _Optional[_Iterable[_Union[DirectionOperation, _Mapping]]] = ..., truncation: _Optional[_Union[TruncationOperation, _Mapping]] = ..., style_mix: _Optional[_Union[StyleMixOperation, _Mapping]] = ..., interpolation: _Optional[_Union[InterpolationOperation, _Mapping]] = ...) -> None: ...

class LatentSource(_message.Message):
    __slots__ = ["latent", "layer"]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    latent: Latent
    layer: Image
    def __init__(self, latent: _Optional[_Union[Latent, _Mapping]] = ..., layer: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ["max_drag_steps", "max_image_side", "max_message_bytes", "max_points", "max_queued_jobs", "max_sessions"]
    MAX_DRAG_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGE_SIDE_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUED_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    max_drag_steps: int
    max_image_side: int
    max_message_bytes: int
    max_points: int
    max_queued_jobs: int
    max_sessions: int
    def __init__(self, max_image_side: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_points: _Optional[int] = ..., max_sessions: _Optional[int] = ..., max_queued_jobs: _Optional[int] = ..., max_drag_steps: _Optional[int] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ["default_model", "models"]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    default_model: str
    models: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., default_model: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ["sessions"]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ["architecture", "description", "display_name", "has_discriminator", "is_default", "license", "loaded", "name", "num_ws", "provenance", "resolution", "w_dim"]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    HAS_DISCRIMINATOR_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NUM_WS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    W_DIM_FIELD_NUMBER: _ClassVar[int]
    architecture: str
    description: str
    display_name: str
    has_discriminator: bool
    is_default: bool
    license: str
    loaded: bool
    name: str
    num_ws: int
    provenance: str
    resolution: int
    w_dim: int
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., architecture: _Optional[str] = ..., resolution: _Optional[int] = ..., num_ws: _Optional[int] = ..., w_dim: _Optional[int] = ..., has_discriminator: bool = ..., license: _Optional[str] = ..., description: _Optional[str] = ..., provenance: _Optional[str] = ..., is_default: bool = ..., loaded: bool = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ["x", "y"]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class RenderLatentEditRequest(_message.Message):
    __slots__ = ["composite", "edit", "encoding", "include_latent", "revision", "session"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_LATENT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    composite: bool
    edit: LatentEdit
    encoding: ImageEncoding
    include_latent: bool
    revision: int
    session: str
    def __init__(self, session: _Optional[str] = ..., revision: _Optional[int] = ..., edit: _Optional[_Union[LatentEdit, _Mapping]] = ..., encoding: _Optional[_Union[ImageEncoding, str]] = ..., composite: bool = ..., include_latent: bool = ...) -> None: ...

class RenderLatentEditResponse(_message.Message):
    __slots__ = ["composite", "image", "latent", "revision"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    composite: Image
    image: Image
    latent: Latent
    revision: int
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., composite: _Optional[_Union[Image, _Mapping]] = ..., latent: _Optional[_Union[Latent, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class RenderRequest(_message.Message):
    __slots__ = ["composite", "encoding", "revision", "session"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    composite: bool
    encoding: ImageEncoding
    revision: int
    session: str
    def __init__(self, session: _Optional[str] = ..., revision: _Optional[int] = ..., encoding: _Optional[_Union[ImageEncoding, str]] = ..., composite: bool = ...) -> None: ...

class RenderResponse(_message.Message):
    __slots__ = ["composite", "image", "revision"]
    COMPOSITE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    composite: Image
    image: Image
    revision: int
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., composite: _Optional[_Union[Image, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class RevertRequest(_message.Message):
    __slots__ = ["revision", "session"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    session: str
    def __init__(self, session: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class RevertResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class Revision(_message.Message):
    __slots__ = ["create_time_unix_ms", "description", "id"]
    CREATE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    create_time_unix_ms: int
    description: str
    id: int
    def __init__(self, id: _Optional[int] = ..., description: _Optional[str] = ..., create_time_unix_ms: _Optional[int] = ...) -> None: ...

class SeedSource(_message.Message):
    __slots__ = ["seed", "truncation_psi"]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    seed: int
    truncation_psi: float
    def __init__(self, seed: _Optional[int] = ..., truncation_psi: _Optional[float] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ["busy", "create_time_unix_ms", "expire_time_unix_ms", "kind", "layer_height", "layer_width", "model", "name", "region_box", "resolution", "revision", "revisions"]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LAYER_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAYER_WIDTH_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REGION_BOX_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    busy: bool
    create_time_unix_ms: int
    expire_time_unix_ms: int
    kind: SessionKind
    layer_height: int
    layer_width: int
    model: str
    name: str
    region_box: Box
    resolution: int
    revision: int
    revisions: _containers.RepeatedCompositeFieldContainer[Revision]
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., kind: _Optional[_Union[SessionKind, str]] = ..., revision: _Optional[int] = ..., revisions: _Optional[_Iterable[_Union[Revision, _Mapping]]] = ..., resolution: _Optional[int] = ..., layer_width: _Optional[int] = ..., layer_height: _Optional[int] = ..., region_box: _Optional[_Union[Box, _Mapping]] = ..., create_time_unix_ms: _Optional[int] = ..., expire_time_unix_ms: _Optional[int] = ..., busy: bool = ...) -> None: ...

class StyleMixOperation(_message.Message):
    __slots__ = ["latent", "rows", "seed", "session"]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    latent: Latent
    rows: RowRange
    seed: int
    session: str
    def __init__(self, seed: _Optional[int] = ..., session: _Optional[str] = ..., latent: _Optional[_Union[Latent, _Mapping]] = ..., rows: _Optional[_Union[RowRange, str]] = ...) -> None: ...

class TruncationOperation(_message.Message):
    __slots__ = ["truncation_psi"]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    truncation_psi: float
    def __init__(self, truncation_psi: _Optional[float] = ...) -> None: ...

class PixelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ImageEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SessionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class InversionPreset(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class DragMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class DragPreset(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CoordinateSpace(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LatentSpace(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RowRange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
