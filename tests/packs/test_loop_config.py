"""``[assistant]``, ``[coder]``, ``[analyst]`` and the new ``[runs]`` folders: defaults that work, and
mistakes reported with the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.assistant_api import resolve_headers
from orchestrator.config import load_config
from orchestrator.errors import ConfigError
from orchestrator.runs import create_run, list_runs


def project(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "orchestrate.toml").write_text(text)
    return root


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    config = load_config(project(tmp_path, ""))
    assert config.assistant.message_path == "POST /api/assistant/message"
    assert config.assistant.session_path == "GET /api/assistant/session/{session_id}"
    assert config.assistant.fields.capability_missing == "$.capability_missing"
    assert config.coder.command == [] and config.analyst.mode == "auto" and config.analyst.stall_limit == 2
    assert config.domain_runs_dir == config.root / "artifacts" / "domain_runs"
    assert config.pack_runs_dir in config.run_roots


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('[assistant]\nheaders = {X-Key = "{env.1BAD}"}\n', "assistant.headers", "variable name"),
        (
            '[assistant]\ncapability_missing_pattern = "(unclosed"\n',
            "assistant.capability_missing_pattern",
            "regular",
        ),
        ('[assistant]\nmessage_path = "DELETE /x"\n', "assistant.message_path", "method and a path"),
        ('[assistant]\nbase_url = "ftp://example.com"\n', "assistant.base_url", "http"),
        ('[analyst]\nmode = "sometimes"\n', "analyst.mode", "auto"),
        ("[coder]\ntimeout_s = 0\n", "coder.timeout_s", "greater than 0"),
    ],
)
def test_mistakes_name_the_file_and_field(tmp_path: Path, text: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path, text))
    assert info.value.field == field
    assert words in str(info.value) and "orchestrate.toml" in str(info.value)


def test_header_tokens_come_from_the_environment_and_are_returned_for_redaction() -> None:
    headers, secrets = resolve_headers({"Authorization": "Bearer {env.TOKEN}"}, {"TOKEN": "s3cr3t"})
    assert headers == {"Authorization": "Bearer s3cr3t"} and secrets == ["s3cr3t"]
    with pytest.raises(ConfigError, match=r"TOKEN.*not set"):
        resolve_headers({"Authorization": "Bearer {env.TOKEN}"}, {})


def test_pack_runs_are_runs_of_their_own_kind(tmp_path: Path) -> None:
    config = load_config(project(tmp_path, ""))
    run = create_run(config.pack_runs_dir, "pack", target="inventory-basics")
    assert run.run_id.startswith("inventory-basics-")
    (info,) = list_runs(config.run_roots)
    assert info.kind == "pack"
