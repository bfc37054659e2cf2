"""The bundled sample project: what discovery keeps and skips, and that its manifest cannot drift.

EXPECTED_FINDINGS.json is re-derived here by running the fake reviewer's own
rules over exactly the files discovery keeps, in walk mode and in git mode.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from claudebuild.text_lines import split_lines
from claudebuild.pipeline.discover import discover_files
from claudebuild.errors import ClaudebuildError
from claudebuild.fakeapi.reviewer import HOSTILE_CATEGORY, RULES, SourceLine, review_lines
from claudebuild.sample import MANIFEST, copy_sample_repo, expected_findings, sample_root

MAX_FILE_BYTES = 1_000_000  # the config default

NEVER_SENT = {
    ".env": "secret",
    "config/dev.pem": "secret",
    "package-lock.json": "lockfile",
    "web/static/logo.png": "binary",
    "web/static/js/vendor.min.js": "generated",
    "web/static/js/charts.bundle.js": "generated",
    "app/_build_info.py": "generated",
    "docs/legacy/setup-2019.md": "claudeignore",
}

CANARIES = (".env", "docs/legacy/setup-2019.md", "web/static/js/vendor.min.js", "build/lib/app/main.py")
"""Never-sent files holding a line the reviewer flags: if one leaked, a finding would appear."""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_sample_repo(tmp_path / "demo")


def init_git(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Demo")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "demo@example.com")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "sample"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def rederive(root: Path, paths: list[str]) -> list[dict[str, object]]:
    """What the fake reviewer reports when it is sent exactly these files, numbered like the prompt."""
    lines = [
        SourceLine(path, number, text)
        for path in paths
        for number, text in enumerate(split_lines((root / path).read_text(encoding="utf-8")), start=1)
    ]
    return [{"file": f.file, "line": f.line, "category": f.category} for f in review_lines(lines)]


def test_copy_restores_dot_files_and_leaves_the_manifest_out(demo: Path) -> None:
    assert (demo / ".gitignore").read_text().splitlines()[:1] == ["__pycache__/"]
    assert (demo / ".claudeignore").is_file() and (demo / ".env").is_file()
    assert not any((demo / name).exists() for name in ("_gitignore", "_claudeignore", "_env", MANIFEST))
    assert (demo / "build/lib/app/main.py").is_file()
    assert os.access(demo / "scripts/backup.sh", os.X_OK)
    stored = sum(1 for _ in Path(str(sample_root())).rglob("*") if _.is_file())
    copied = sum(1 for _ in demo.rglob("*") if _.is_file())
    assert copied == stored - 1


def test_copy_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ClaudebuildError, match="not an empty directory"):
        copy_sample_repo(tmp_path)
    assert copy_sample_repo(tmp_path / "fresh" / "nested") == tmp_path / "fresh" / "nested"


@pytest.mark.parametrize("mode", ["walk", "git"])
def test_discovery_of_the_sample(demo: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "git":
        init_git(demo, monkeypatch)
    discovery = discover_files(demo, max_file_bytes=MAX_FILE_BYTES)
    kept = [f.path for f in discovery.files]
    assert {s.path: s.reason for s in discovery.skipped} == NEVER_SENT
    assert not any(path.startswith("build/") for path in kept)  # gitignored: not even a candidate
    assert 30 <= len(kept) <= 40
    assert rederive(demo, kept) == expected_findings()


def test_manifest_is_realistic_and_sorted() -> None:
    findings = expected_findings()
    assert findings == sorted(findings, key=lambda f: (f["file"], f["line"], f["category"]))
    assert 8 <= len({f["file"] for f in findings}) <= 12
    # every rule but the hostile-output one, which only tests of inert output use
    assert {f["category"] for f in findings} == {rule.category for rule in RULES} - {HOSTILE_CATEGORY}
    assert json.loads((sample_root() / MANIFEST).read_text()) == findings


def test_each_flagged_line_has_exactly_one_problem(demo: Path) -> None:
    for finding in expected_findings():
        text = split_lines((demo / str(finding["file"])).read_text())[int(str(finding["line"])) - 1]
        assert [rule.category for rule in RULES if rule.matches(text)] == [finding["category"]]


@pytest.mark.parametrize("path", CANARIES)
def test_never_sent_files_would_be_noticed_if_leaked(demo: Path, path: str) -> None:
    assert rederive(demo, [path]), f"{path} has no line the fake reviewer flags"
