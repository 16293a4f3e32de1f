"""Joining Ray: once per process, a cluster when given its address, else a local instance.

Ray is an optional extra (``pip install 'orchestrate[ray]'``), so nothing here imports it at
module level: :func:`ensure_ray` is where a missing extra becomes a :class:`UsageError` that says
how to install it, before a run dir exists.
"""

from __future__ import annotations

import importlib
import math
import socket
import threading
from types import ModuleType

from orchestrator.config import RaySection
from orchestrator.errors import UsageError

__all__ = ["INSTALL_HINT", "check_capacity", "ensure_ray", "import_ray"]

INSTALL_HINT = "pip install 'orchestrate[ray]'"

_lock = threading.Lock()


def import_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`UsageError` naming the extra to install."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise UsageError(
            f"--backend ray needs Ray, which is not installed ({exc}); install it with: {INSTALL_HINT}"
        ) from None


_CONNECT_TIMEOUT_S = 5.0


def _check_reachable(address: str | None) -> None:
    """A cluster address that names a host and port must answer at once: ``ray.init`` would retry
    an unreachable one for minutes, printing a warning each time, before it gives up."""
    if not address or address in ("auto", "local"):
        return
    target = address.removeprefix("ray://").rstrip("/")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(
            f"--ray-address {address!r} is not HOST:PORT, ray://HOST:PORT or auto; "
            "e.g. --ray-address 10.0.0.5:6379"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise UsageError(
            f"no Ray cluster answers at {address} ({exc}); check --ray-address (or [ray] address in "
            "orchestrate.toml), or start one with `ray start --head`"
        ) from None


def ensure_ray(address: str | None) -> ModuleType:
    """Connect this process to Ray once (later calls reuse the connection) and return ``ray``.

    With ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``) the process joins that
    cluster; without one it starts a local instance. Ray's dashboard is not started and worker
    output stays on the nodes: the run's own records are its events and trajectory files.
    """
    ray = import_ray()
    with _lock:
        if not ray.is_initialized():
            _check_reachable(address)
            try:
                ray.init(
                    # "local": a new instance of our own, never a cluster found on the machine.
                    address=address or "local",
                    ignore_reinit_error=True,
                    include_dashboard=False,
                    log_to_driver=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise UsageError(
                    f"could not connect to {where}: {exc}; check --ray-address (or [ray] address in "
                    "orchestrate.toml), or start a cluster with `ray start --head`"
                ) from None
    return ray


def check_capacity(runners: int, section: RaySection) -> None:
    """Refuse a pool the cluster cannot hold: an actor that finds no CPU waits for ever.

    Each runner's actor reserves ``[ray] num_cpus_per_slot`` CPUs for the whole run, so
    ``runners`` of them must fit in the cluster's CPUs at once (called once Ray is joined).
    """
    ray = import_ray()
    total = float(ray.cluster_resources().get("CPU", 0.0))
    each = section.num_cpus_per_slot
    if runners * each > total:
        fits = max(1, int(total // each)) if total >= each else 0
        share = math.floor(total / runners * 100) / 100
        raise UsageError(
            f"--parallel {runners} needs {runners * each:g} CPUs on the Ray cluster ({each:g} per runner, "
            f"[ray] num_cpus_per_slot) but it has {total:g}; use --parallel {fits or 1}"
            f"{'' if fits else ' with a smaller num_cpus_per_slot'}, or set [ray] num_cpus_per_slot = "
            f"{share:g} in orchestrate.toml (asking an assistant needs little CPU)"
        )
