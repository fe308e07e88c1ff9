"""Runtime behaviour: cancellation, the bounded queue, message limits, responsiveness during a job, auth,
unix sockets, the instance lock and graceful shutdown."""
from __future__ import annotations

import os
import threading
import time

import grpc
import numpy as np
import pytest
from engine_fixtures import start_engine
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from engine.client import EngineClient, EngineError, RawImage
from engine.service.server import EngineStartError

FAR_DRAG = dict(handles=[(2.0, 2.0)], targets=[(30.0, 30.0)], max_steps=2000)


def start_long_drag(client, session: str, cancel: threading.Event, progress: list, errors: list) -> threading.Thread:
    def run():
        try:
            client.drag(session, **FAR_DRAG, on_progress=progress.append, cancel_event=cancel)
        except EngineError as exc:
            errors.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_cancel_stops_the_worker_and_keeps_the_revision(client, engine):
    made = client.create_session_from_seed(2)
    cancel, progress, errors = threading.Event(), [], []
    thread = start_long_drag(client, made.session.name, cancel, progress, errors)
    wait_for(lambda: len(progress) >= 2)
    cancel.set()
    thread.join(30)
    assert errors and errors[0].code == "CANCELLED"
    wait_for(lambda: not engine.servicer.worker.busy, timeout=5)
    steps_at_cancel = progress[-1].step
    session = client.get_session(made.session.name)
    assert session.revision == 1 and not session.busy and len(session.revisions) == 1
    assert steps_at_cancel < 2000
    rendered, _ = client.render(made.session.name)
    assert rendered.data == made.image.data


def finish_after_three_steps(client, session: str, method: str):
    """A far drag finished (FinishDrag, through `finish_event`) once it has reported three steps."""
    progress, outcome = [], []
    finish = threading.Event()
    thread = threading.Thread(target=lambda: outcome.append(client.drag(
        session, **FAR_DRAG, method=method, on_progress=progress.append, finish_event=finish)))
    thread.start()
    wait_for(lambda: len(progress) >= 3)
    finish.set()
    thread.join(30)
    (result,) = outcome
    assert result.finished_early and not result.converged and 3 <= result.steps < FAR_DRAG["max_steps"]
    return result


def test_finish_drag_commits_the_drag_where_it_is(client, engine):
    made = client.create_session_from_seed(3)
    assert client.finish_drag(made.session.name) is False  # nothing running: nothing to do
    result = finish_after_three_steps(client, made.session.name, "draggan")
    session = client.get_session(made.session.name)
    assert session.revision == 2 and not session.busy  # committed as a new revision, like a finished drag
    assert session.revisions[-1].description == f"drag 1 point (draggan, {result.steps} steps, finished early)"
    rendered, _ = client.render(made.session.name)
    assert rendered.data == result.image.data != made.image.data
    assert client.finish_drag(made.session.name) is False  # the finished drag no longer listens
    plain = client.drag(made.session.name, handles=[(20.0, 20.0)], targets=[(21.0, 20.0)], max_steps=2)
    assert not plain.finished_early
    assert plain.session.revisions[-1].description == f"drag 1 point (draggan, {plain.steps} steps)"
    with pytest.raises(EngineError) as missing:
        client.finish_drag("sessions/none")
    assert missing.value.code == "NOT_FOUND"


def test_finish_drag_keeps_a_freedrag_where_it_is_too(client, engine):
    made = client.create_session_from_seed(5)
    result = finish_after_three_steps(client, made.session.name, "freedrag")
    session = client.get_session(made.session.name)
    assert session.revision == 2 and not session.busy
    assert session.revisions[-1].description == f"drag 1 point (freedrag, {result.steps} steps, finished early)"


def test_health_and_light_calls_stay_fast_during_a_job(client, engine):
    made = client.create_session_from_seed(4)
    cancel, progress, errors = threading.Event(), [], []
    thread = start_long_drag(client, made.session.name, cancel, progress, errors)
    try:
        wait_for(lambda: len(progress) >= 1)
        with grpc.insecure_channel(engine.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            latencies = []
            for _ in range(20):
                started = time.perf_counter()
                answer = health.Check(health_pb2.HealthCheckRequest(service="latentdrag.v1.Engine"), timeout=5)
                latencies.append(time.perf_counter() - started)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
        assert sorted(latencies)[len(latencies) // 2] < 0.05
        info = client.health()
        assert info.busy
        assert client.get_session(made.session.name).busy
        with pytest.raises(EngineError) as err:  # one job per session
            client.drag(made.session.name, [(1, 1)], [(2, 2)], max_steps=1)
        assert err.value.code == "FAILED_PRECONDITION"
    finally:
        cancel.set()
        thread.join(30)


def test_full_queue_is_resource_exhausted(tiny_model, tmp_path):
    server = start_engine(tiny_model, tmp_path, max_queued_jobs=1)
    try:
        with EngineClient(server.address) as client:
            a, b, c = (client.create_session_from_seed(s).session.name for s in (1, 2, 3))
            cancel_a, cancel_b, progress, errors = threading.Event(), threading.Event(), [], []
            running = start_long_drag(client, a, cancel_a, progress, errors)
            wait_for(lambda: len(progress) >= 1)
            queued = start_long_drag(client, b, cancel_b, [], errors)
            wait_for(lambda: server.servicer.worker.queued == 1)
            with pytest.raises(EngineError) as err:
                client.drag(c, [(1, 1)], [(2, 2)], max_steps=1)
            assert err.value.code == "RESOURCE_EXHAUSTED" and "busy" in err.value.message
            assert not client.get_session(c).busy  # the refused job released its session
            cancel_b.set()
            queued.join(30)
            cancel_a.set()
            running.join(30)
            assert client.get_session(b).revision == 1  # cancelled while queued: never ran
    finally:
        server.stop(0)


def test_large_messages_pass_and_oversized_ones_are_refused(tiny_model, tmp_path):
    server = start_engine(tiny_model, tmp_path, max_message_bytes=64 * 1024 * 1024)
    layer = np.random.default_rng(1).integers(0, 256, size=(1100, 1100, 4), dtype=np.uint8)
    layer[..., 3] = 255
    try:
        with EngineClient(server.address) as client:
            blob = client.export_latent(client.create_session_from_seed(5).session.name)
            # ~4.8 MB each way: above gRPC's 4 MiB default.
            resumed = client.create_session_from_latent(blob, layer=RawImage(1100, 1100, layer.tobytes()),
                                                        result_format="raw")
            assert len(resumed.composite.data) == 1100 * 1100 * 4
            with pytest.raises(EngineError) as err:  # the server's limit, not the client's (256 MiB)
                client.create_session_from_latent(blob, layer=RawImage(1, 1, bytes(64 * 1024 * 1024 + 1)))
            assert err.value.code == "RESOURCE_EXHAUSTED"
    finally:
        server.stop(0)


def test_token_is_required_except_for_health(tiny_model, tmp_path):
    token = "s3cret-token-for-tests"
    server = start_engine(tiny_model, tmp_path, token=token)
    try:
        with EngineClient(server.address) as anonymous, EngineClient(server.address, token="wrong-token") as wrong:
            for client in (anonymous, wrong):
                with pytest.raises(EngineError) as err:
                    client.list_models()
                assert err.value.code == "UNAUTHENTICATED"
                with pytest.raises(EngineError) as err:  # a streaming RPC is refused the same way
                    client.drag("sessions/x", [(1, 1)], [(2, 2)])
                assert err.value.code == "UNAUTHENTICATED"
        with EngineClient(server.address, token=token) as client:
            assert client.list_models()[0].name == "models/tiny"
        with grpc.insecure_channel(server.address) as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop(0)


def test_non_loopback_address_needs_a_token(tiny_model, tmp_path):
    with pytest.raises(EngineStartError, match="token"):
        start_engine(tiny_model, tmp_path, listen="0.0.0.0:0")


def test_unix_socket_and_single_instance(tiny_model, tmp_path):
    address = f"unix:{tmp_path}/sock/engine.sock"
    server = start_engine(tiny_model, tmp_path, listen=address)
    try:
        assert oct(os.stat(tmp_path / "sock").st_mode & 0o777) == "0o700"
        with EngineClient(address) as client:
            made = client.create_session_from_seed(8)
            out = client.drag(made.session.name, [(10, 10)], [(13, 10)], max_steps=3)
            assert out.session.revision == 2
        with pytest.raises(EngineStartError, match="another engine"):
            start_engine(tiny_model, tmp_path, listen=address)
        with EngineClient(address) as client:  # the first engine still owns its socket
            assert client.health().serving
    finally:
        server.stop(0)


def test_reflection_lists_the_services(engine):
    with grpc.insecure_channel(engine.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        (answer,) = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for s in answer.list_services_response.service}
    assert {"latentdrag.v1.Engine", "grpc.health.v1.Health"} <= names


def test_shutdown_goes_not_serving_then_unavailable(tiny_model, tmp_path):
    server = start_engine(tiny_model, tmp_path)
    address = server.address
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
        server.health.enter_graceful_shutdown()
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == \
            health_pb2.HealthCheckResponse.NOT_SERVING
    server.stop(0)
    with EngineClient(address, timeout=5) as client:
        with pytest.raises(EngineError) as err:
            client.health()
        assert err.value.code == "UNAVAILABLE" and "latentdrag serve" in err.value.message


def test_precision_and_threads_settings_reach_the_work(tiny_model, tmp_path, monkeypatch):
    import torch

    from engine.edit import drag as drag_module
    from engine.service.config import ServiceConfig

    with pytest.raises(ValueError, match="precision"):
        ServiceConfig(precision="fp8")
    with pytest.raises(ValueError, match="torch_threads"):
        ServiceConfig(torch_threads=0)
    seen = []
    real_drag = drag_module.drag
    monkeypatch.setattr(drag_module, "drag", lambda *a, **k: seen.append(k["options"].precision) or real_drag(*a, **k))
    threads = torch.get_num_threads()
    server = start_engine(tiny_model, tmp_path, precision="float32", torch_threads=1)
    try:
        assert torch.get_num_threads() == 1
        with EngineClient(server.address) as c:
            made = c.create_session_from_seed(3)
            c.drag(made.session.name, [(10.0, 10.0)], [(12.0, 11.0)], max_steps=2)
        assert seen == ["float32"]
    finally:
        server.stop()
        torch.set_num_threads(threads)
