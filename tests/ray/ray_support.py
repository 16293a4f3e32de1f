"""A Ray cluster on this machine for the Ray backend's tests, and a server that holds a trajectory.

:func:`start_cluster` starts a head (2 CPUs) and a second node (1 CPU) with
``ray.cluster_utils.Cluster`` and connects this process to it; :func:`stop_cluster` undoes both,
so no Ray process outlives the test module.

:class:`HoldServer` is a real HTTP server on loopback that the test system under test calls
before it files a ticket (``HOLD_URL`` in its environment). While holding, it answers nobody and
tells the test who is waiting (the process id and trajectory of each caller), so the test can
kill or strand exactly the slot actor that is mid-trajectory; after :meth:`HoldServer.release`
it answers every call at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from tests.scenarios.pipeline_support import CONFIG, SUT_MODULE, make_project, scenario_yaml

__all__ = ["HoldServer", "actor_running_in", "make_held_project", "start_cluster", "stop_cluster"]

_HOLD_CALL = """        text = body["message"]
        hold = env.get("HOLD_URL")
        if hold:
            async with httpx.AsyncClient(timeout=120) as client:
                await client.post(hold, json={"pid": os.getpid(), "trajectory": trajectory})
"""


def start_cluster() -> tuple[Cluster, Any]:
    """A head with 2 CPUs and a worker node with 1 CPU; this process is connected to it."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    except BaseException:
        cluster.shutdown()
        raise
    return cluster, worker


def stop_cluster(cluster: Cluster) -> None:
    ray.shutdown()
    cluster.shutdown()


def actor_running_in(pid: int) -> tuple[Any, dict[str, Any]]:
    """The live slot actor whose process is ``pid``, and where it runs."""
    for name in ray.util.list_named_actors():
        try:
            actor = ray.get_actor(name)
            where = ray.get(actor.node.remote(), timeout=30)
        except (ValueError, ray.exceptions.RayError):
            continue  # gone meanwhile, or not a slot actor
        if where["pid"] == pid:
            return actor, where
    raise AssertionError(f"no slot actor runs in process {pid}")


class HoldServer:
    """See the module docstring; ``calls`` lists every call's body, in order of arrival.

    ``path`` is where it is called (``url`` names it); ``answer`` makes each held POST's JSON
    answer from its body, and ``session`` the answer to any GET (an assistant's session read).
    """

    def __init__(
        self,
        *,
        path: str = "/hold",
        answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: {},
        session: dict[str, Any] | None = None,
    ) -> None:
        self.calls: list[dict[str, Any]] = []
        self._path = path
        self._released = threading.Event()
        self._arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer._arrived:
                    outer.calls.append(body)
                    outer._arrived.notify_all()
                outer._released.wait(timeout=120)
                self._answer(answer(body))

            def do_GET(self) -> None:
                self._answer(session or {})

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hold-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._path}"

    def wait_for(self, count: int, *, timeout: float = 120) -> list[dict[str, Any]]:
        """The first ``count`` calls, once that many arrived (an AssertionError after ``timeout``)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.calls) >= count, timeout=timeout):
                raise AssertionError(f"{len(self.calls)} of {count} held calls arrived in {timeout} s")
            return list(self.calls[:count])

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def make_held_project(root: Path, hold_url: str, *, count: int) -> Path:
    """The pipeline's test project, its system under test calling ``hold_url`` before it files."""
    config = CONFIG.replace(
        'JIRA_TOKEN = "{twins.jira.token}" }',
        f'JIRA_TOKEN = "{{twins.jira.token}}", HOLD_URL = "{hold_url}" }}',
    ).replace("count = 3", f"count = {count}")
    assert hold_url in config and f"count = {count}" in config
    make_project(root, {"file-ticket": scenario_yaml("file-ticket", "file Printer on fire")}, config=config)
    module = SUT_MODULE.replace('        text = body["message"]\n', _HOLD_CALL).replace(
        "import hashlib\n", "import hashlib\nimport os\n"
    )
    assert "HOLD_URL" in module and "import os" in module
    (root / "ticketdesk.py").write_text(module, encoding="utf-8")
    return root
