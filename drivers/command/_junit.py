"""Read a JUnit XML report into test-case results, refusing anything but plain XML.

JUnit XML is what pytest (``--junitxml``), ``go-junit-report``, jest-junit, Gradle, Maven and
most other runners write: ``<testsuites>`` or a single ``<testsuite>``, holding ``<testcase>``
elements (at any depth, since some tools nest suites) whose ``<failure>``, ``<error>`` or
``<skipped>`` child says how the test ended.

The file is written by the project's own test command, but it is still parsed defensively: a
document declaring a DOCTYPE or an ENTITY is refused before parsing (no entity expansion, no
external references), and oversized files are refused. The standard library's parser is used;
``defusedxml`` would do the same refusals but is not a dependency.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestrator.errors import ArtifactError

__all__ = ["MAX_JUNIT_BYTES", "TestCaseResult", "parse_junit", "read_junit"]

MAX_JUNIT_BYTES = 64 * 1024 * 1024
_MESSAGE_LIMIT = 1000
_FORBIDDEN_DECLARATIONS = ("<!doctype", "<!entity")
_ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")

Outcome = Literal["passed", "failed", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class TestCaseResult:
    """One ``<testcase>``: who it is, how it ended, and the failure's message."""

    __test__ = False  # not a pytest class, despite its name

    classname: str
    name: str
    outcome: Outcome
    message: str | None = None
    time_s: float | None = None

    @property
    def qualified_name(self) -> str:
        """``classname::name``, or the name alone when the report gives no class."""
        return f"{self.classname}::{self.name}" if self.classname else self.name


def read_junit(path: Path) -> list[TestCaseResult]:
    """Parse the report at ``path``; :class:`ArtifactError` when it is too big, unsafe or not JUnit."""
    try:
        size = path.stat().st_size
        if size > MAX_JUNIT_BYTES:
            raise ArtifactError(f"{path} is {size} bytes; JUnit reports over {MAX_JUNIT_BYTES} are refused")
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read the JUnit report {path}: {exc}") from exc
    return parse_junit(data, source=str(path))


def parse_junit(data: bytes, *, source: str = "the JUnit report") -> list[TestCaseResult]:
    """The test cases of a JUnit XML document, in document order."""
    lowered = data.lower()
    for encoding in _ENCODINGS:
        for declaration in _FORBIDDEN_DECLARATIONS:
            if declaration.encode(encoding) in lowered:
                raise ArtifactError(
                    f"{source} declares {declaration[2:].upper()}; JUnit reports with DTDs or entities "
                    "are refused"
                )
    try:
        # Safe here: DOCTYPE and ENTITY declarations were refused above, so nothing can expand.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise ArtifactError(f"{source} is not well-formed XML: {exc}") from exc
    if _local(root.tag) not in ("testsuites", "testsuite"):
        raise ArtifactError(
            f"{source} is not a JUnit report: its root is <{_local(root.tag)}>, "
            "not <testsuites> or <testsuite>"
        )
    return [_case(element) for element in root.iter() if _local(element.tag) == "testcase"]


def _case(element: ET.Element) -> TestCaseResult:
    outcome: Outcome = "passed"
    message: str | None = None
    for child in element:
        tag = _local(child.tag)
        if tag in ("failure", "error"):
            outcome = "failed" if tag == "failure" else "error"
            message = _message(child)
            break
        if tag == "skipped":
            outcome, message = "skipped", _message(child)
    return TestCaseResult(
        classname=element.get("classname", "").strip(),
        name=element.get("name", "").strip() or "(unnamed)",
        outcome=outcome,
        message=message,
        time_s=_float(element.get("time")),
    )


def _message(element: ET.Element) -> str:
    text = (element.get("message") or "").strip()
    if not text:
        text = next((line.strip() for line in (element.text or "").splitlines() if line.strip()), "")
    kind = (element.get("type") or "").strip()
    if not text:
        text = kind or _local(element.tag)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
