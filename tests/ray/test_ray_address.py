"""A cluster address nothing answers at is refused at once, not retried for minutes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli_support import run_main
from tests.packs.loop_support import PACK, example_copy

pytest.importorskip("ray")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}", "no-port-here"])
def test_an_address_nothing_answers_at_is_exit_2_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, address: str
) -> None:
    root = example_copy(tmp_path)
    given = address.format(port=closed_port())
    outcome = run_main(
        monkeypatch, "-C", str(root), "pack", str(root / PACK), "--backend", "ray", "--ray-address", given
    )
    assert outcome.code == 2
    assert "--ray-address" in outcome.stderr
    assert not (root / "artifacts").exists()
