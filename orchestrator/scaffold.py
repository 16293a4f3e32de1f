"""``orchestrate init``: lay out a new project without ever touching what is already there.

Creates a commented ``orchestrate.toml`` showing every setting at its default, with commented
``[sut]`` and ``[targets.web]`` stanzas to fill in (where the app answers, how to start it, when
it is up); the policy override directory with a commented ``test-profiles.yaml`` (the profile
format: routes, ``auto``, journeys and their steps, checks, axe impacts, ``changed_paths``) and
a commented ``retention.yaml`` example (equal to the shipped default); the scenario catalog
(with a commented example scenario when it has none) and twin directories. Running it again
creates only what is missing: an existing file is kept byte for byte, a policy already
overridden under another suffix (``test-profiles.json``) is kept rather than joined by a second
file, and a project configured in ``pyproject.toml`` (``[tool.orchestrate]``) gets no
``orchestrate.toml`` that would shadow it. The result says what was created and what was kept,
and the next steps, each a command that exists.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.artifacts import StrPath, atomic_write_text
from orchestrator.config import CONFIG_FILE_NAME, PYPROJECT_FILE_NAME, SCENARIOS_DIR_NAME, policy_dir_of
from orchestrator.errors import UsageError
from orchestrator.policyfiles import PROJECT_SUFFIXES

__all__ = [
    "CONFIG_TEMPLATE",
    "EXAMPLE_SCENARIO",
    "EXAMPLE_SCENARIO_PATH",
    "RETENTION_TEMPLATE",
    "TEST_PROFILES_TEMPLATE",
    "InitResult",
    "init_project",
]

CONFIG_TEMPLATE = """\
# orchestrate project configuration. Every setting shows its default: change what you need.
# Any setting can be overridden from the environment as ORCHESTRATE_<SECTION>__<KEY>,
# for example ORCHESTRATE_EVENTS__BATCH_SIZE=200.

[project]
# name = "demo"                    # default: the name of this directory

[events]
db = ".orchestrator/events.db"     # event index (SQLite); relative to this directory unless absolute
batch_size = 1000                  # most events written at once, 1..100000
max_pending = 50000                # events queued before emitters pause for the writer to catch up

[runs]
ui_dir = ".orchestrator/runs"      # run dirs of `orchestrate test`
scenario_dir = ".scenarios/runs"   # run dirs of `orchestrate run`
pack_dir = ".orchestrator/pack-runs"   # run dirs of `orchestrate case | scenario | pack | pack-loop`
domain_dir = "artifacts/domain_runs"   # their artifacts: one folder per case, scenario or pack

[issues]
backend = "local"                  # local, github, gitlab, gh or glab
# repository = "owner/name"        # GitHub owner/name, or GitLab group/project
# api_url = "https://api.github.com"
# token_env = "GITHUB_TOKEN"       # the variable holding the token (never the token itself)
# retry_budget_s = 60.0            # seconds a tracker may spend, in all, retrying 429 and 5xx

[scenarios]
catalog_dir = ".scenarios/catalog" # scenario files: <domain>/<id>.scenario.yaml
reports_dir = ".scenarios/reports" # latest.json and history/ of `orchestrate satisfy`
count = 10                         # trajectories per scenario (a scenario's own count wins)
parallel = 1                       # slots at once, each with its own twins and system under test
chaos_profile = "none"             # none, gentle, moderate, hostile, or a profile of your own
trajectory_timeout_s = 120.0       # deadline of one trajectory
judge_parallel = 4                 # trajectories judged at once

# The model that judges text criteria (any OpenAI-compatible server, or Anthropic). Without a
# model, text criteria stay unjudged; structured criteria never need one.
[llm]
provider = "openai"                # openai or anthropic
# model = "gpt-4o-mini"            # no default: set one to judge text criteria
# base_url = "https://api.openai.com/v1"   # default per provider; any OpenAI-compatible server
# api_key_env = "OPENAI_API_KEY"   # the variable holding the key (never the key itself)
timeout_s = 60.0                   # one request's longest wait
max_retries = 4                    # retries after 429, 5xx or a dropped connection
max_backoff_s = 30.0               # longest wait before a retry (Retry-After is honoured)
max_tokens = 1024                  # longest answer

# The system under test of `orchestrate run` (scenarios). Fill it in and remove the leading "# ".
# Each slot starts its own copy on a free port; env values may name the slot's twins, as
# {twins.NAME.url} and {twins.NAME.token}.
# [sut]
# base_url = "http://127.0.0.1:{port}"
# start_command = ["python", "app.py", "--port", "{port}"]   # argv, no shell; omit if it runs already
# app = "myapp.main:app"           # instead of a command: an ASGI app (or factory) served in process
# cwd = "."
# env = { JIRA_URL = "{twins.jira.url}", JIRA_TOKEN = "{twins.jira.token}" }
# env_passthrough = []             # secret-looking variables it may still see
# health_path = "/health"
# start_timeout_s = 30.0
# message_path = "POST /api/assistant/message"             # where `user:` steps go: {session_id?, message}
# session_path = "GET /api/assistant/session/{session_id}"
# request_timeout_s = 30.0
# fields = { answer = "$.answer", session_id = "$.session_id", data = "$.data", route = "$.route" }

# The assistant `orchestrate case | scenario | pack | pack-loop` ask. Fill it in and remove the "# ".
# With start_command it is started on a free port and restarted after each coder run of the loop.
# [assistant]
# base_url = "http://127.0.0.1:{port}"
# start_command = ["python", "app.py", "--port", "{port}"]   # argv, no shell; omit if it runs already
# cwd = "."
# env = {}
# env_passthrough = []
# health_path = "/health"
# start_timeout_s = 30.0
# message_path = "POST /api/assistant/message"             # body {session_id?, message}
# session_path = "GET /api/assistant/session/{session_id}"
# timeout_s = 60.0                 # one answer's longest wait
# headers = { Authorization = "Bearer {env.ASSISTANT_TOKEN}" }   # {env.NAME}: from the environment, redacted
# capability_missing_pattern = "(?i)I can't do that yet"          # text that says a capability is missing
# fields = { answer = "$.answer", session_id = "$.session_id", data = "$.data", route = "$.route",
#            sources = "$.sources", capability_missing = "$.capability_missing" }   # one line in TOML

# The coding agent `orchestrate pack-loop` runs on the analyst's backlog (argv, no shell).
# {backlog}, {analysis}, {repo} and {iteration} are filled in. Remove the "# " to use it.
# [coder]
# command = ["python", "coder.py", "--backlog", "{backlog}", "--repo", "{repo}"]
# repo = "."                       # default: [assistant] cwd, else this directory
# timeout_s = 1800.0
# allowed_paths = []               # globs it may change; a change elsewhere stops the loop for you
# env_passthrough = []             # secret-looking variables (its API key) it may still see

[analyst]
mode = "auto"                      # auto: the [llm] model when one is set, else rules; rules; llm
stall_limit = 2                    # coder runs in a row without a gain before you must decide

# OpenTelemetry: export every run as OTLP traces (GenAI conventions), and take the system under
# test's own spans into its trajectories during scenario runs.
[telemetry]
# otlp_endpoint = "http://127.0.0.1:4318"   # default: $OTEL_EXPORTER_OTLP_ENDPOINT; unset: no export
service_name = "orchestrate"
export_timeout_s = 10.0            # one export's longest wait; a collector that is down never slows a run
max_queue = 20000                  # spans waiting to be sent before new ones are dropped (and counted)
intake = false                     # listen for the SUT's OTLP spans during `orchestrate run`

# Where `--backend ray` runs slots (pip install 'orchestrate[ray]').
[ray]
# address = "auto"                 # an existing cluster; default: a local Ray instance for the run
num_cpus_per_slot = 1.0

# The web app `orchestrate test` exercises (target web). Fill it in and remove the leading "# ":
# base_url is required; with start_command, orchestrate starts the app for each run, waits until
# health_path answers, and stops it afterwards. {port} becomes a free port the OS picks (also
# given to the command as $PORT), so runs never collide.
# [targets.web]
# driver = "web"                   # web, mac, command or a plugin driver
# base_url = "http://127.0.0.1:{port}"                            # where the app answers
# start_command = ["python", "-m", "myapp", "--port", "{port}"]   # argv, no shell; omit if it runs already
# cwd = "."                        # the start command's working directory
# env = {}                         # extra environment for the start command
# health_path = "/"                # answers 2xx/3xx once the app is up
# start_timeout_s = 30.0           # longest wait for health_path
# app_name = "MyApp"               # macOS app (mac driver)
# profile = "smoke"                # used when --profile is not given

"""

EXAMPLE_SCENARIO_PATH = "example/ask-for-help.scenario.yaml"
EXAMPLE_SCENARIO = """\
# An example scenario (see the README, "Scenario files"). `orchestrate catalog` checks it;
# `orchestrate run` needs [sut] in orchestrate.toml to say where the system under test is.
id: ask-for-help                   # kebab-case, the file's name
domain: example                    # the folder's name
version: 1                         # raise it when the scenario's meaning changes
persona:
  role: new customer
  expertise: novice
  goals: [get an answer without waiting for a human]
context:
  services: [slack]                # twins served to the system under test, reset before every trajectory
  data:                            # seed data per twin, in that twin's seed format
    slack:
      channels: [{id: C0SUPPORT, name: support}]
  state: {customer: Ada}           # free values for {{context.state.customer}}
intent: ask the assistant for help and get a useful, honest answer
steps:
  - id: ask                        # a message to the assistant; one session per trajectory
    user: "Hi, I am {{context.state.customer}}. Can you tell the team in #support that I need help?"
    expect: {status: 200}
  - id: health                     # a plain HTTP call to the system under test
    http: {method: GET, path: /health}
satisfaction_criteria:             # any (default) or all of them, see criteria_mode
  - label: the team was told in #support
    api_call: {service: slack, method: POST, path: "*/chat.postMessage", status: 200}
  - The assistant confirms that the team was told, in plain words   # judged by the [llm] model
anti_patterns:                     # any match makes the trajectory unsatisfactory
  - label: more than one message posted
    twin_state: {service: slack, path: "$.messages[*]", count: {min: 2}}
# chaos: gentle                    # a profile; or rules, e.g.
#   [{type: error, target: slack, probability: 0.2, code: 503}]
# count: 20                        # trajectories per run (default: [scenarios] count)
# threshold: 0.9                   # satisfaction needed by `orchestrate validate`
"""

TEST_PROFILES_TEMPLATE = """\
# UI-gate profiles for `orchestrate test`. This file overrides the shipped profiles (smoke, full,
# a11y, onboarding, mac-gate) key by key: a profile here with a shipped name changes only the
# fields it sets (a list replaces the shipped list), and a new name adds a profile.

# The target `orchestrate test` runs without --target, and each target's profile when no
# --profile is given (a `profile` under [targets.NAME] in orchestrate.toml wins over this map).
default_target: web
targets:
  web: smoke

# Uncomment `profiles:` and what you need below it.
# profiles:
#   # A profile of your own: `orchestrate test --profile checkout`.
#   checkout:
#     driver: web                    # web, mac, command or a plugin driver
#     description: The checkout flow and the pages around it.
#     # Paths under the target's base_url to visit (absolute URLs must be on its origin, or on one
#     # listed in allowed_origins), or `auto`: crawl same-origin links from the base URL and its
#     # sitemap.xml, breadth-first, up to max_routes pages and max_depth links away.
#     routes: [/, /cart, /checkout]
#     # routes: auto
#     # max_routes: 25
#     # max_depth: 3
#     # allowed_origins: [https://docs.example.com]
#     # Journeys run their steps in order in one page. Steps: goto, click, fill, press,
#     # expect_visible, wait_for, and mark (a step the user sees; the onboarding check counts them).
#     journeys:
#       - name: buy
#         onboarding: false          # true: the onboarding step-count check measures this journey
#         steps:
#           - goto: /cart
#           - click: "text=Checkout"
#           - fill: {selector: "#email", value: "ada@example.com"}
#           - press: {selector: "#email", key: Enter}
#           - wait_for: "#payment"
#           - mark: "Payment"
#           - expect_visible: "h1:has-text('Thank you')"
#     # Rubric v1 checks: onboarding_step_count, axe_violations, console_errors, liquid_glass.
#     checks: [axe_violations, console_errors]
#     # Axe violations of these impacts are findings: critical, serious, moderate, minor.
#     axe_impacts: [critical, serious]
#     mode: headless                 # or headed, to watch the browser
#     timeout_s: 300
#     # With --since REF: changed files (globs, relative to the project) -> the routes to visit;
#     # routes no changed file maps to are skipped.
#     changed_paths:
#       "src/checkout/**": [/checkout]
#       "static/*.css": [/, /cart, /checkout]
#   # A shipped profile, changed field by field: everything else stays as shipped.
#   smoke:
#     routes: [/, /pricing, /signup]
"""

RETENTION_TEMPLATE = """\
# Retention policy: how long run dirs are kept before they are pruned.
# This file overrides the default shipped with orchestrate; a key left out keeps its default.
# Days a run dir is kept (a whole number, at least 1):
retention_days: 30
"""


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_project` did: the paths it created and the ones it found and left alone."""

    root: Path
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    config_file: Path | None = None
    """The file the project's settings are in: ``orchestrate.toml``, or ``pyproject.toml``."""

    def lines(self) -> list[str]:
        """One line per path, relative to the root: ``created orchestrate.toml``, ``kept    .scenarios/``."""
        return [f"created {self._show(path)}" for path in self.created] + [
            f"kept    {self._show(path)}" for path in self.kept
        ]

    def next_steps(self) -> list[str]:
        """What to do now, each step an ``orchestrate`` command that exists (or a file to edit)."""
        config = self.config_file.name if self.config_file is not None else CONFIG_FILE_NAME
        section = "[tool.orchestrate.targets.web]" if config == PYPROJECT_FILE_NAME else "[targets.web]"
        sut = "[tool.orchestrate.sut]" if config == PYPROJECT_FILE_NAME else "[sut]"
        return [
            f"Fill in {section} in {config}: base_url, and start_command and health_path "
            "if orchestrate should start the app.",
            "Run `orchestrate test` (target web, profile smoke; see "
            ".orchestrator/policy/test-profiles.yaml for the profile format).",
            "Open report.html in the run dir `orchestrate runs list` shows; "
            "`orchestrate issues list` lists the issues filed.",
            f"For scenario runs, fill in {sut} in {config}, check the catalog with "
            "`orchestrate catalog`, then run `orchestrate validate`.",
        ]

    def _show(self, path: Path) -> str:
        if path == self.root:
            return str(path)
        suffix = "/" if path.is_dir() else ""
        return f"{path.relative_to(self.root).as_posix()}{suffix}"


def init_project(root: StrPath) -> InitResult:
    """Scaffold a project at ``root`` (created if missing); idempotent, never overwrites a file.

    A file or directory that already exists is reported in ``kept`` and left untouched. Something
    in the way (a file where a directory belongs) is a :class:`UsageError`.
    """
    root = Path(root).expanduser().absolute()
    config_file = root / CONFIG_FILE_NAME
    if not os.path.lexists(config_file) and _configured_in_pyproject(root):
        config_file = root / PYPROJECT_FILE_NAME
    result = InitResult(root=root, config_file=config_file)
    policy_dir = policy_dir_of(root)
    scenarios_dir = root / SCENARIOS_DIR_NAME
    if not root.is_dir():
        _ensure_dir(root, result)
    for directory in (policy_dir, scenarios_dir / "catalog", scenarios_dir / "twins"):
        _ensure_dir(directory, result)
    _ensure_file(config_file, CONFIG_TEMPLATE, result)
    example = scenarios_dir / "catalog" / EXAMPLE_SCENARIO_PATH
    if os.path.lexists(example) or not any((scenarios_dir / "catalog").rglob("*.scenario.y*ml")):
        # A catalog of the project's own needs no example; an example already there is kept.
        _ensure_dir(example.parent, result)
        _ensure_file(example, EXAMPLE_SCENARIO, result)
    _ensure_policy(policy_dir, "test-profiles", TEST_PROFILES_TEMPLATE, result)
    _ensure_policy(policy_dir, "retention", RETENTION_TEMPLATE, result)
    return result


def _configured_in_pyproject(root: Path) -> bool:
    """Whether ``pyproject.toml`` has a ``[tool.orchestrate]`` table (an orchestrate.toml would shadow it)."""
    try:
        document = tomllib.loads((root / PYPROJECT_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    tool = document.get("tool")
    return isinstance(tool, dict) and "orchestrate" in tool


def _ensure_policy(policy_dir: Path, name: str, text: str, result: InitResult) -> None:
    """Create ``<name>.yaml`` unless the policy is already overridden, under any suffix."""
    existing = [
        policy_dir / f"{name}{suffix}"
        for suffix in PROJECT_SUFFIXES
        if os.path.lexists(policy_dir / f"{name}{suffix}")
    ]
    if existing:
        # A second file for the same policy would make every command fail until one is deleted.
        result.kept.extend(existing)
        return
    _ensure_file(policy_dir / f"{name}.yaml", text, result)


def _ensure_dir(directory: Path, result: InitResult) -> None:
    if directory.is_dir():
        result.kept.append(directory)
        return
    try:
        directory.mkdir(parents=True)
    except (FileExistsError, NotADirectoryError) as exc:
        blocker = next(
            (p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), directory
        )
        raise UsageError(
            f"cannot create the directory {directory}: {blocker} is in the way and is not a directory"
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot create the directory {directory}: {exc.strerror or exc}") from exc
    result.created.append(directory)


def _ensure_file(path: Path, text: str, result: InitResult) -> None:
    # lexists: a dangling symlink is someone's file too; writing would replace it.
    if os.path.lexists(path):
        result.kept.append(path)
        return
    atomic_write_text(path, text)
    result.created.append(path)
