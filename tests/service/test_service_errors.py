"""Every validation and state error reaches the client as the documented status with a message that
names the field. Raw stubs are used where the client would refuse the input itself."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
from engine_fixtures import png_bytes

from engine.client import EngineClient, EngineError, RawImage
from engine.client._gen.latentdrag.v1 import engine_pb2 as pb
from engine.client._gen.latentdrag.v1 import engine_pb2_grpc as pb_grpc


@pytest.fixture(scope="module")
def stub(engine):
    with grpc.insecure_channel(engine.address) as channel:
        yield pb_grpc.EngineStub(channel)


@pytest.fixture(scope="module")
def seed_session(engine):
    with EngineClient(engine.address) as c:
        return c.create_session_from_seed(1).session.name


def status_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        result = call()
        if hasattr(result, "__next__"):  # a server stream: the status arrives while reading
            list(result)
    return err.value.code(), err.value.details()


def drag_request(session: str, **fields) -> pb.DragRequest:
    request = pb.DragRequest(session=session, handles=[pb.Point(x=10, y=10)], targets=[pb.Point(x=14, y=10)],
                             method=pb.DRAG_METHOD_DRAGGAN, max_steps=2)
    for key, value in fields.items():
        if isinstance(value, list):
            del getattr(request, key)[:]
            getattr(request, key).extend(value)
        elif hasattr(value, "CopyFrom"):
            getattr(request, key).CopyFrom(value)
        else:
            setattr(request, key, value)
    return request


@pytest.mark.parametrize("fields, field_named", [
    ({"method": pb.DRAG_METHOD_UNSPECIFIED}, "method"),
    ({"method": 42}, "method"),
    ({"handles": [pb.Point(x=40, y=10)]}, "handles[0]"),
    ({"targets": [pb.Point(x=10, y=-1)]}, "targets[0]"),
    ({"handles": [pb.Point(x=float("nan"), y=10)]}, "handles[0]"),
    ({"targets": [pb.Point(x=10, y=float("inf"))]}, "targets[0]"),
    ({"handles": [pb.Point(x=1, y=1)] * 65, "targets": [pb.Point(x=1, y=1)] * 65}, "handles"),
    ({"targets": []}, "targets"),
    ({"max_steps": 999999}, "max_steps"),
    ({"preview_every": -1}, "preview_every"),
    ({"mask": pb.Image(data=bytes(16 * 16), width=16, height=16, pixel_format=pb.PIXEL_FORMAT_GRAY8)}, "mask"),
    ({"mask": pb.Image(data=b"not a png", mime_type="image/png")}, "mask.data"),
    ({"mask": pb.Image(data=bytes(10), width=32, height=32, pixel_format=pb.PIXEL_FORMAT_GRAY8)}, "mask.data"),
    ({"result_encoding": 17}, "result_encoding"),
])
def test_drag_invalid_arguments(stub, seed_session, fields, field_named):
    code, message = status_of(lambda: stub.Drag(drag_request(seed_session, **fields)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith(field_named), message


def test_not_found(stub, seed_session):
    for call, field in [
        (lambda: stub.Drag(drag_request("sessions/nope")), "session"),
        (lambda: stub.GetSession(pb.GetSessionRequest(name="sessions/nope")), "name"),
        (lambda: stub.Render(pb.RenderRequest(session=seed_session, revision=99)), "revision"),
        (lambda: stub.Revert(pb.RevertRequest(session=seed_session, revision=99)), "revision"),
        (lambda: stub.CreateSession(pb.CreateSessionRequest(model="models/none", seed=pb.SeedSource(seed=1))),
         "model"),
    ]:
        code, message = status_of(call)
        assert code == grpc.StatusCode.NOT_FOUND and message.startswith(field), message


def test_bad_session_name_is_invalid(stub):
    code, message = status_of(lambda: stub.GetSession(pb.GetSessionRequest(name="abc")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message.startswith("name")


def test_layer_coordinates_need_an_image_session(stub, seed_session):
    code, message = status_of(lambda: stub.Drag(drag_request(seed_session, coordinates=pb.COORDINATE_SPACE_LAYER)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "image session" in message


def test_expected_revision_mismatch_is_aborted(stub, seed_session):
    code, message = status_of(lambda: stub.Drag(drag_request(seed_session, expected_revision=7)))
    assert code == grpc.StatusCode.ABORTED and "expected_revision" in message


def half_transparent() -> np.ndarray:
    """8×8 RGBA whose left half is transparent and right half opaque grey."""
    layer = np.full((8, 8, 4), 128, np.uint8)
    layer[:, :4, 3] = 0
    return layer


def test_image_validation(client, engine):
    too_wide = RawImage(engine.config.max_image_side + 1, 1, bytes((engine.config.max_image_side + 1) * 4))
    cases = [
        (lambda: client.create_session_from_image(too_wide), "png_or_raw", "too large"),
        (lambda: client.create_session_from_image(b"\x89PNG\r\n\x1a\nbroken"), "image.data", "cannot be decoded"),
        (lambda: client.create_session_from_image(RawImage(4, 4, bytes(10))), "image.data", "needs 64"),
        (lambda: client.create_session_from_image(png_bytes(np.zeros((8, 8, 3), np.uint8)), selection=(4, 4, 8, 8)),
         "selection", "not inside"),
        (lambda: client.create_session_from_image(png_bytes(np.zeros((8, 8, 3), np.uint8)),
                                                  mask=RawImage(4, 4, bytes(16), "GRAY8")), "mask", "is 4x4"),
        (lambda: client.create_session_from_image(png_bytes(np.zeros((8, 8, 4), np.uint8))),
         "image", "fully transparent"),
        (lambda: client.create_session_from_image(png_bytes(half_transparent()), selection=(0, 0, 4, 8)),
         "image", "fully transparent"),
    ]
    for call, field, reason in cases:
        with pytest.raises(EngineError) as err:
            call()
        assert err.value.code == "INVALID_ARGUMENT", err.value
        assert err.value.message.startswith(field.replace("png_or_raw", "image")) and reason in err.value.message


def test_inversion_preset_must_be_chosen(stub):
    request = pb.CreateSessionFromImageRequest(image=pb.Image(data=png_bytes(np.zeros((8, 8, 3), np.uint8)),
                                                              mime_type="image/png"))
    code, message = status_of(lambda: stub.CreateSessionFromImage(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message.startswith("preset")


def test_latent_validation(client, seed_session):
    good = client.export_latent(seed_session)
    latent = pb.Latent.FromString(good)
    wrong_shape = pb.Latent(shape=[1, 3, 32], dtype=pb.DTYPE_FLOAT32, data=bytes(3 * 32 * 4))
    nan = pb.Latent(shape=list(latent.shape), dtype=pb.DTYPE_FLOAT32,
                    data=np.full(8 * 32, np.nan, "<f4").tobytes())
    for blob, reason in [(wrong_shape, "shape"), (nan, "NaN")]:
        with pytest.raises(EngineError) as err:
            client.create_session_from_latent(blob.SerializeToString())
        assert err.value.code == "INVALID_ARGUMENT" and reason in err.value.message
    other_model = pb.Latent(); other_model.CopyFrom(latent); other_model.model_sha256 = "0" * 64
    with pytest.raises(EngineError) as err:
        client.create_session_from_latent(other_model.SerializeToString())
    assert err.value.code == "FAILED_PRECONDITION"


def test_client_side_argument_errors_name_the_argument(client, seed_session):
    with pytest.raises(ValueError, match="method"):
        client.drag(seed_session, [(1, 1)], [(2, 2)], method="magic")
    with pytest.raises(ValueError, match=r"handles\[0\]"):
        client.drag(seed_session, [(1,)], [(2, 2)])
    with pytest.raises(ValueError, match="not PNG"):
        client.create_session_from_image(b"x")
