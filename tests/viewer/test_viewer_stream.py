"""The live stream: events written by another process arrive once, and a reconnect resumes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx

from orchestrator.asgi_server import AsgiServer
from orchestrator.viewer import StreamSettings, create_app, stop_streams
from tests.viewer.viewer_support import Frame, open_stream, project, serve, write_in_other_process


def _events(frames: list[Frame]) -> list[dict[str, object]]:
    return [json.loads(frame.data or "") for frame in frames if frame.event == "event"]


def _count(n: int):  # type: ignore[no-untyped-def]
    return lambda frames: sum(1 for frame in frames if frame.event == "event") >= n


def _keepalive_after(n: int):  # type: ignore[no-untyped-def]
    """Until a keep-alive comes after the ``n``-th event: by then every event was sent."""

    def done(frames: list[Frame]) -> bool:
        seen = 0
        for frame in frames:
            seen += frame.event == "event"
            if seen >= n and frame.comment == "keepalive":
                return True
        return False

    return done


def test_an_event_written_by_another_process_arrives_exactly_once(tmp_path: Path) -> None:
    config = project(tmp_path)
    with serve(config, keepalive_s=0.2) as served, open_stream(served.client) as stream:
        run_id = write_in_other_process(config, events=3)
        frames = stream.read(_keepalive_after(5))
    events = _events(frames)
    assert [(event["run_id"], event["seq"]) for event in events] == [(run_id, seq) for seq in range(1, 6)]
    assert [event["event_type"] for event in events][::4] == [
        "conductor.task.started",
        "conductor.task.completed",
    ]
    ids = [int(frame.id or 0) for frame in frames if frame.event == "event"]
    assert ids == sorted(set(ids))


def test_a_reconnect_with_last_event_id_resumes_after_it(tmp_path: Path) -> None:
    config = project(tmp_path)
    with serve(config, keepalive_s=0.2) as served:
        with open_stream(served.client) as stream:
            first_run = write_in_other_process(config, events=3)
            frames = stream.read(_count(2))
        last_id = [frame.id for frame in frames if frame.event == "event"][1]
        assert last_id is not None
        # Written while no client listens.
        second_run = write_in_other_process(config, events=1)
        with open_stream(served.client, headers={"Last-Event-ID": last_id}) as stream:
            resumed = stream.read(_keepalive_after(6))
    events = [(event["run_id"], event["seq"]) for event in _events(resumed)]
    assert events == [
        (first_run, 3),
        (first_run, 4),
        (first_run, 5),
        (second_run, 1),
        (second_run, 2),
        (second_run, 3),
    ]


def test_one_runs_stream_from_a_seq_and_bad_cursors(tmp_path: Path) -> None:
    config = project(tmp_path)
    with serve(config, keepalive_s=0.2) as served:
        run_id = write_in_other_process(config, events=3)
        write_in_other_process(config, events=1)
        with open_stream(served.client, params={"run_id": run_id, "since_seq": "2"}) as stream:
            frames = stream.read(_keepalive_after(3))
        assert [(e["run_id"], e["seq"]) for e in _events(frames)] == [(run_id, 3), (run_id, 4), (run_id, 5)]
        for bad in ("yesterday", "99999999999999999999999", "-1"):
            response = served.client.get("/logs/stream", headers={"Last-Event-ID": bad})
            assert response.status_code == 422 and "Last-Event-ID" in response.json()["detail"]


def test_streams_end_when_the_server_stops_and_leave_no_thread(tmp_path: Path) -> None:
    config = project(tmp_path)
    app = create_app(config, port=0, stream=StreamSettings(poll_interval_s=0.05, keepalive_s=0.2))
    server = AsgiServer(app, name="viewer")
    url = server.start(timeout=15)
    with httpx.Client(base_url=url, timeout=20) as client, open_stream(client) as stream:
        stream.read(lambda frames: any(frame.comment == "keepalive" for frame in frames))
        stop_streams(app)
        server.stop()
        rest = stream.rest()  # ends: the server closed the stream
    assert all(not line.startswith("data:") for line in rest)
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("orchestrate-viewer")]


def test_a_client_that_goes_away_ends_its_stream(tmp_path: Path) -> None:
    config = project(tmp_path)
    with serve(config, keepalive_s=0.2) as served:
        for _ in range(3):
            with open_stream(served.client) as stream:
                stream.read(lambda frames: any(frame.comment == "keepalive" for frame in frames))
        # The server still answers: the abandoned streams hold nothing up.
        assert served.client.get("/health").json() == {"status": "ok"}
