"""The Liquid Glass check: a static scan of SwiftUI projects that target OS 26 or later."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestrator.agents.ux_evaluator import FINDINGS_FILE, LIQUID_GLASS_EVIDENCE, Evaluation, evaluate_run
from orchestrator.agents.ux_evaluator._swift_source import mask, type_spans
from orchestrator.gate import CaptureManifest, fingerprint
from orchestrator.policy.test_profiles import Profile

RUN_ID = "mac-1700000000000"

PACKAGE_26 = """// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Notes",
    platforms: [.macOS(.v26), .iOS(.v26)],
    dependencies: [
        .package(url: "https://github.com/example/markdown.git", from: "1.0.0"),
    ],
    targets: [.executableTarget(name: "Notes", path: "Sources/Notes")]
)
"""

SETTINGS_VIEW = """import SwiftUI

struct SettingsView: View {
    @State private var name = ""

    var body: some View {
        Form {
            TextField("Name", text: $name)
        }
        .padding()
        .background(.ultraThinMaterial)
    }
}
"""

SIDEBAR_VIEW = """import SwiftUI

struct SidebarView: View {
    var body: some View {
        List { Text("Inbox") }
            // orchestrate: allow-material the sidebar keeps the vibrancy of the system source list
            .background(.regularMaterial, in: RoundedRectangle(cornerRadius: 12))
    }
}
"""

MIXED_VIEWS = """import SwiftUI

/* A card that already uses glass:
   .background(.thickMaterial) was the old look. */
struct GlassCard: View {
    var body: some View {
        VStack { Text("Hello \\(name.uppercased()) .blur(radius: 3)") }
            .background(.thinMaterial)
            .glassEffect(.regular, in: .rect(cornerRadius: 16))
    }
    let name = "world"
}

struct LegacyCard: View {
    var body: some View {
        VStack {
            Text(#"Raw "string" with .ultraThinMaterial"#)
            Image("photo").blur(radius: 8)
        }
        .background(Material.thick)
        .overlay { Rectangle().fill(.thickMaterial) }
        .background(Material.thick)
    }
}

struct HoverModifier: ViewModifier {
    func body(content: Content) -> some View {
        // orchestrate: allow-material
        content.background(.ultraThickMaterial)
    }
}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def swift_app(root: Path, package: str = PACKAGE_26) -> Path:
    write(
        root,
        {
            "Package.swift": package,
            "Sources/Notes/SettingsView.swift": SETTINGS_VIEW,
            "Sources/Notes/SidebarView.swift": SIDEBAR_VIEW,
            "Sources/Notes/Cards.swift": MIXED_VIEWS,
            # Build products and dependencies are never scanned.
            ".build/checkouts/Dep/Sources/Old.swift": (
                "import SwiftUI\nstruct Old: View { var body: some View "
                "{ Color.red.background(.ultraThinMaterial) } }\n"
            ),
        },
    )
    return root


def run_dir_in(project: Path) -> Path:
    run_dir = project / ".orchestrator" / "runs" / RUN_ID
    (run_dir / "captures").mkdir(parents=True)
    manifest = CaptureManifest(driver="mac", exit_code=0, platform="macOS 26.0")
    (run_dir / "captures" / "mac.json").write_text(manifest.model_dump_json())
    return run_dir


def evaluate(project: Path, run_dir: Path, swift_project: str | None = None) -> Evaluation:
    profile = Profile(driver="mac", checks=["liquid_glass"], swift_project=swift_project)
    return evaluate_run(run_dir, run_id=RUN_ID, profile=profile, project_root=project)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "Notes"
    root.mkdir()
    return root


def test_materials_without_glass_are_findings_and_exceptions_lower_them(project: Path) -> None:
    swift_app(project)
    run_dir = run_dir_in(project)
    evaluation = evaluate(project, run_dir)
    found = {(f.severity, f.scope, f.checkId, f.locator) for f in evaluation.findings}
    assert found == {
        (
            "high",
            "swift:Sources/Notes/SettingsView.swift",
            "liquid-glass-material",
            "SettingsView: .ultraThinMaterial",
        ),
        (
            "low",
            "swift:Sources/Notes/SidebarView.swift",
            "liquid-glass-material",
            "SidebarView: .regularMaterial",
        ),
        ("high", "swift:Sources/Notes/Cards.swift", "liquid-glass-material", "LegacyCard: Material.thick"),
        ("high", "swift:Sources/Notes/Cards.swift", "liquid-glass-material", "LegacyCard: .thickMaterial"),
        ("medium", "swift:Sources/Notes/Cards.swift", "liquid-glass-blur", "LegacyCard: .blur"),
        # The marker has no reason, so it is not a documented exception.
        (
            "high",
            "swift:Sources/Notes/Cards.swift",
            "liquid-glass-material",
            "HoverModifier: .ultraThickMaterial",
        ),
    }
    assert evaluation.checks_run == ("liquid_glass",)
    assert evaluation.verdict == "FIX_REQUIRED"
    by_locator = {f.locator: f for f in evaluation.findings}
    settings = by_locator["SettingsView: .ultraThinMaterial"]
    assert settings.fingerprint == fingerprint(
        "swift:Sources/Notes/SettingsView.swift", "liquid-glass-material", "SettingsView: .ultraThinMaterial"
    )
    assert settings.suggested_priority == "P1"
    assert "Sources/Notes/SettingsView.swift line 11" in settings.description
    assert ".glassEffect()" in settings.recommendation
    sidebar = by_locator["SidebarView: .regularMaterial"]
    assert (
        "Documented exception: the sidebar keeps the vibrancy of the system source list."
        in sidebar.description
    )
    assert sidebar.suggested_priority == "P3"
    assert "lines 20, 22" in by_locator["LegacyCard: Material.thick"].description
    assert "gives no reason" in by_locator["HoverModifier: .ultraThickMaterial"].description


def test_the_scan_is_the_evidence_and_holds_no_absolute_path(project: Path) -> None:
    swift_app(project)
    run_dir = run_dir_in(project)
    evaluation = evaluate(project, run_dir)
    assert {f.evidence_path for f in evaluation.findings} == {LIQUID_GLASS_EVIDENCE}
    evidence = run_dir / LIQUID_GLASS_EVIDENCE
    text = evidence.read_text()
    assert str(project) not in text
    scan = json.loads(text)
    assert scan["project"] == "."
    assert scan["os_targets"] == {"iOS": 26, "macOS": 26}
    assert scan["files_scanned"] == 4
    assert {(u["file"], u["line"]) for u in scan["usages"]} >= {
        ("Sources/Notes/SettingsView.swift", 11),
        ("Sources/Notes/SidebarView.swift", 7),
    }
    assert {u["fingerprint"] for u in scan["usages"]} == {f.fingerprint for f in evaluation.findings}


def test_fingerprints_survive_edits_above_the_view(project: Path) -> None:
    swift_app(project)
    run_dir = run_dir_in(project)
    before = {f.fingerprint for f in evaluate(project, run_dir).findings}
    settings = project / "Sources/Notes/SettingsView.swift"
    settings.write_text("// Settings screen\n// (c) Example\n\n" + settings.read_text())
    after = evaluate(project, run_dir)
    assert {f.fingerprint for f in after.findings} == before
    assert "line 14" in next(f for f in after.findings if f.locator.startswith("SettingsView")).description


def test_evaluating_a_copy_of_project_and_run_is_byte_identical(tmp_path: Path, project: Path) -> None:
    swift_app(project)
    run_dir = run_dir_in(project)
    evaluate(project, run_dir)
    first = (run_dir / FINDINGS_FILE).read_bytes(), (run_dir / LIQUID_GLASS_EVIDENCE).read_bytes()
    copy = tmp_path / "clone" / "Notes"
    shutil.copytree(project, copy)
    copy_run = copy / ".orchestrator" / "runs" / RUN_ID
    evaluate(copy, copy_run)
    assert ((copy_run / FINDINGS_FILE).read_bytes(), (copy_run / LIQUID_GLASS_EVIDENCE).read_bytes()) == first


@pytest.mark.parametrize(
    "package",
    [
        PACKAGE_26.replace("[.macOS(.v26), .iOS(.v26)]", "[.macOS(.v15)]"),
        PACKAGE_26.replace(
            "[.macOS(.v26), .iOS(.v26)]", "[.macOS(.v15) /* .macOS(.v26) later */]\n// .iOS(.v26)"
        ),
    ],
)
def test_projects_below_os_26_are_skipped_with_the_reason(project: Path, package: str) -> None:
    swift_app(project, package)
    run_dir = run_dir_in(project)
    evaluation = evaluate(project, run_dir)
    assert evaluation.findings == ()
    assert evaluation.skipped_checks == {
        "liquid_glass": "the Swift project at . does not target OS 26 or later (deployment targets macOS 15)",
        "axe_violations": "not selected by the profile",
        "console_errors": "not selected by the profile",
        "onboarding_step_count": "not selected by the profile",
    }
    assert not (run_dir / LIQUID_GLASS_EVIDENCE).exists()


def test_deployment_target_of_an_xcode_project_in_a_subfolder(project: Path) -> None:
    app = project / "apps" / "Notes"
    write(
        app,
        {
            "Notes.xcodeproj/project.pbxproj": (
                "buildSettings = {\n\tMACOSX_DEPLOYMENT_TARGET = 14.0;\n};\n"
                "buildSettings = {\n\tMACOSX_DEPLOYMENT_TARGET = 26.0;\n\tSWIFT_VERSION = 6.0;\n};\n"
            ),
            "Notes/SettingsView.swift": SETTINGS_VIEW,
        },
    )
    write(project, {"web/package.json": "{}"})
    run_dir = run_dir_in(project)
    (finding,) = evaluate(project, run_dir).findings
    assert finding.scope == "swift:apps/Notes/Notes/SettingsView.swift"
    assert json.loads((run_dir / LIQUID_GLASS_EVIDENCE).read_text())["project"] == "apps/Notes"


def test_xcconfig_sets_the_target_for_a_configured_folder(project: Path) -> None:
    write(
        project,
        {
            "ios/Config/Base.xcconfig": "IPHONEOS_DEPLOYMENT_TARGET = 26.1\n",
            "ios/App.xcodeproj/project.pbxproj": "// no deployment target here\n",
            "ios/App/SettingsView.swift": SETTINGS_VIEW,
        },
    )
    run_dir = run_dir_in(project)
    (finding,) = evaluate(project, run_dir, swift_project="ios").findings
    assert finding.scope == "swift:ios/App/SettingsView.swift"


def test_missing_projects_are_skipped_with_a_reason(project: Path) -> None:
    run_dir = run_dir_in(project)
    assert evaluate(project, run_dir).skipped_checks["liquid_glass"] == (
        "no SwiftUI project (Package.swift or *.xcodeproj) in the project"
    )
    assert evaluate(project, run_dir, swift_project="mac").skipped_checks["liquid_glass"] == (
        "swift_project 'mac' is not a folder in the project"
    )
    write(project, {"Package.swift": PACKAGE_26, "Sources/Notes/main.swift": 'print("hello")\n'})
    assert evaluate(project, run_dir).skipped_checks["liquid_glass"] == (
        "the Swift project at . has no Swift file that imports SwiftUI"
    )


def test_a_later_evaluation_without_the_check_removes_a_stale_scan(project: Path) -> None:
    swift_app(project)
    run_dir = run_dir_in(project)
    evaluate(project, run_dir)
    assert (run_dir / LIQUID_GLASS_EVIDENCE).is_file()
    evaluate_run(run_dir, run_id=RUN_ID, profile=Profile(checks=["axe_violations"]), project_root=project)
    assert not (run_dir / LIQUID_GLASS_EVIDENCE).exists()


# --- the Swift reader -----------------------------------------------------------------------------


def test_mask_blanks_comments_and_strings_but_keeps_offsets() -> None:
    source = (
        'let a = "x.blur(1) \\(f("y.blur(2)")) z"  // .blur(3)\n'
        "/* outer /* .blur(4) */ still comment */ let b = 1\n"
        'let c = #"raw "quoted" .blur(5)"#\n'
        'let d = """\n  .blur(6)\n  """\n'
        "view.blur(radius: 7)\n"
    )
    masked = mask(source)
    assert len(masked) == len(source)
    assert masked.count("\n") == source.count("\n")
    assert masked.count(".blur(") == 1
    assert "view.blur(radius: 7)" in masked
    assert "let b = 1" in masked
    assert '"raw ' not in masked
    assert mask(source, keep_strings=True).count(".blur(") == 5  # strings 1, 2, 5, 6 and the code


def test_type_spans_find_views_by_conformance() -> None:
    masked = mask(
        MIXED_VIEWS + "\nextension View {\n  func frosted() -> some View { self }\n}\nstruct Model { }\n"
    )
    spans = {span.name: span.is_view for span in type_spans(masked)}
    assert spans == {
        "GlassCard": True,
        "LegacyCard": True,
        "HoverModifier": True,
        "View": True,
        "Model": False,
    }
