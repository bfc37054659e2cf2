"""End to end: a team's shared remote cache on a real nginx (WebDAV PUT), the real CLI against the fake API.

Two fresh clones of one repository point at the same cache: the second pays for nothing. A cache
that is down, failing, hanging or holding a corrupt entry never changes what the run reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.main import main

from cache_servers import NGINX, Nginx, misbehaving_server, running_nginx
from conftest import git, needs_claude, wait_until

pytestmark = [needs_claude, pytest.mark.e2e]
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")

FILES = {
    "app/db.py": 'def find(cursor, name):\n    cursor.execute(f"SELECT * FROM users WHERE name = \'{name}\'")\n    return cursor.fetchall()\n',
    "app/api.py": "import json\n\n\ndef parse(text):\n    return eval(text)\n",
    "app/models.py": "class User:\n    def __init__(self, name):\n        self.name = name\n",
    "lib/retry.py": "def retry(fn):\n    try:\n        return fn()\n    except:\n        return None\n",
    "lib/text.py": "def shout(text):\n    # TODO: handle unicode properly\n    return text.upper()\n",
    "scripts/deploy.py": "import os\n\n\ndef deploy(host):\n    os.system('ssh ' + host)\n",
}
CONFIG = "max_files_per_chunk = 2\n"
RUN_SPECIFIC = ("run_id", "fresh", "cached", "remote_hits", "cost_usd_this_run", "cost_usd_saved_by_cache", "cost_usd_total",
                "input_tokens", "output_tokens", "compared_with_previous", "new", "persisting", "fixed")


@pytest.fixture
def origin(make_repo: Callable[..., Path]) -> Path:
    root = make_repo(FILES, name="origin", config=CONFIG)
    (root / ".gitignore").write_text(".claudebuild/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def clone(origin: Path, tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        git(tmp_path, "clone", "-q", str(origin), name)
        return tmp_path / name

    return make


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    with running_nginx(tmp_path / "nginx") as server:
        yield server


def review(root: Path, *extra: str) -> int:
    return main(["-C", str(root), "report", "-n", "2", *extra])


def report_json(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())


def shared_part(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between two runs by design (run id, counts, costs)."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key not in RUN_SPECIFIC}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(report)  # type: ignore[no-any-return]


def markdown_without_counts(root: Path) -> list[str]:
    return [line for line in (root / ".claudebuild/report.md").read_text().splitlines() if "chunks over" not in line]


def calls(api: FakeAnthropicServer) -> int:
    return len(api.message_requests())


@needs_nginx
def test_a_second_clone_makes_no_claude_call_and_writes_the_same_report(
        clone: Callable[[str], Path], nginx: Nginx, fake_api: FakeAnthropicServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, second = clone("a"), clone("b")
    assert review(first, "--cache-url", nginx.url) == 0
    paid = calls(fake_api)
    assert paid >= 3
    assert len(nginx.requests("PUT")) == paid and len(nginx.entries()) == paid
    capsys.readouterr()
    assert review(second, "--cache-url", nginx.url) == 0
    assert calls(fake_api) == paid  # zero calls for the second clone
    out = capsys.readouterr().out
    assert "from the remote cache" in out and f"claudebuild: remote cache: {paid} hits, 0 misses, 0 uploaded" in out
    a, b = report_json(first), report_json(second)
    assert b["summary"]["remote_hits"] == paid and b["summary"]["fresh"] == 0
    assert b["summary"]["cost_usd_this_run"] == 0
    assert b["summary"]["cost_usd_saved_by_cache"] == a["summary"]["cost_usd_this_run"] > 0
    assert shared_part(a) == shared_part(b)
    assert markdown_without_counts(first) == markdown_without_counts(second)
    assert len(nginx.requests("PUT")) == paid  # nothing uploaded again


@needs_nginx
def test_a_remote_hit_is_stored_locally_so_the_next_run_asks_nobody(
        clone: Callable[[str], Path], nginx: Nginx, fake_api: FakeAnthropicServer) -> None:
    first, second = clone("a"), clone("b")
    review(first, "--cache-url", nginx.url)
    review(second, "--cache-url", nginx.url)
    paid, asked = calls(fake_api), len(nginx.requests())
    assert review(second, "--cache-url", nginx.url) == 0
    assert (calls(fake_api), len(nginx.requests())) == (paid, asked)
    assert report_json(second)["summary"]["cached"] == paid


@needs_nginx
def test_an_edit_in_the_second_clone_makes_exactly_one_call_and_one_upload(
        clone: Callable[[str], Path], nginx: Nginx, fake_api: FakeAnthropicServer) -> None:
    first, second = clone("a"), clone("b")
    review(first, "--cache-url", nginx.url)
    paid, uploads = calls(fake_api), len(nginx.requests("PUT"))
    with (second / "lib/text.py").open("a") as handle:
        handle.write("\n\ndef whisper(text):\n    return eval(text)\n")
    assert review(second, "--cache-url", nginx.url) == 0
    assert calls(fake_api) == paid + 1
    assert len(nginx.requests("PUT")) == uploads + 1
    summary = report_json(second)["summary"]
    assert (summary["fresh"], summary["remote_hits"]) == (1, paid - 1)
    assert any(f["file"] == "lib/text.py" and f["line"] == 7 for f in report_json(second)["findings"])


@needs_nginx
def test_read_only_mode_uses_the_cache_but_uploads_nothing(
        clone: Callable[[str], Path], nginx: Nginx, fake_api: FakeAnthropicServer, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = clone("a"), clone("b")
    monkeypatch.setenv("CLAUDEBUILD_CACHE_URL", nginx.url)
    assert review(first, "--cache-read-only") == 0
    assert nginx.requests("PUT") == [] and nginx.entries() == []
    review(second)
    monkeypatch.setenv("CLAUDEBUILD_CACHE_READ_ONLY", "1")
    third = clone("c")
    puts = len(nginx.requests("PUT"))
    assert review(third) == 0
    assert report_json(third)["summary"]["remote_hits"] == puts and len(nginx.requests("PUT")) == puts


@needs_nginx
def test_a_corrupted_entry_is_never_used_and_its_chunk_is_analyzed_again(
        clone: Callable[[str], Path], nginx: Nginx, fake_api: FakeAnthropicServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, second = clone("a"), clone("b")
    review(first, "--cache-url", nginx.url)
    paid = calls(fake_api)
    entries = nginx.entries()
    entries[0].write_bytes(entries[0].read_bytes()[:-20] + b"garbage")
    document = json.loads(entries[1].read_bytes())
    document["findings"] = [{"file": "../../etc/passwd", "line": 1, "end_line": 1, "severity": "critical",
                             "category": "x", "title": "planted", "message": "m", "quote": "q"}]
    entries[1].write_bytes(json.dumps(document).encode())
    capsys.readouterr()
    assert review(second, "--cache-url", nginx.url) == 0
    assert calls(fake_api) == paid + 2
    assert "ignored an invalid entry" in capsys.readouterr().err
    assert shared_part(report_json(first)) == shared_part(report_json(second))
    assert all(f["title"] != "planted" for f in report_json(second)["findings"])


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_a_failing_or_hanging_cache_is_reported_once_and_the_run_stays_correct(
        mode: str, make_repo: Callable[..., Path], fake_api: FakeAnthropicServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(FILES, config=CONFIG)
    with misbehaving_server(mode) as (url, asked):
        assert review(root, "--cache-url", url) == 0
    assert 1 <= len(asked) <= 2  # off after the first failure: one request per worker (-n 2) at most, not one per chunk
    err = capsys.readouterr().err
    assert err.count("remote cache") == 1 and ("HTTP 500" in err if mode == "500" else "no answer in time" in err)
    summary = report_json(root)["summary"]
    assert summary["fresh"] == calls(fake_api) and summary["failed"] == 0 and summary["remote_hits"] == 0


def test_a_cache_nobody_listens_on_leaves_the_run_correct(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(FILES, config=CONFIG)
    assert review(root, "--cache-url", "http://127.0.0.1:9/cache") == 0
    assert "cannot connect" in capsys.readouterr().err
    assert report_json(root)["summary"]["fresh"] == calls(fake_api)


@needs_nginx
@pytest.mark.slow  # its own fake API (not the fixture) with latency, so the server can be stopped mid-run
def test_the_server_stopped_mid_run_leaves_the_run_correct(
        clone: Callable[[str], Path], tmp_path: Path, started: list[subprocess.Popen[Any]]) -> None:
    root = clone("a")
    with (root / "claudebuild.toml").open("a") as config:  # a call per chunk, so uploads go on after the stop
        config.write("max_call_bytes = 0\n")
    with FakeAnthropicServer(latency=0.5) as api, running_nginx(tmp_path / "nginx") as server:
        env = {**os.environ, "ANTHROPIC_BASE_URL": api.url, "CLAUDEBUILD_CACHE_URL": server.url}
        process = subprocess.Popen([sys.executable, "-m", "claudebuild", "-C", str(root), "report", "-n", "1"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        wait_until(lambda: server.requests("PUT") or process.poll() is not None, timeout=120, what="a first upload")
        server.stop()
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        paid = len(api.message_requests())
    assert err.count("remote cache") == 1
    summary = report_json(root)["summary"]
    assert summary["fresh"] == paid >= 3 and summary["failed"] == 0


def test_file_urls_share_results_through_a_directory(
        clone: Callable[[str], Path], tmp_path: Path, fake_api: FakeAnthropicServer) -> None:
    shared = tmp_path / "shared"
    first, second = clone("a"), clone("b")
    review(first, "--cache-url", shared.as_uri())
    paid = calls(fake_api)
    assert len(list((shared / "ac").iterdir())) == paid
    assert review(second, "--cache-url", shared.as_uri()) == 0
    assert calls(fake_api) == paid and report_json(second)["summary"]["remote_hits"] == paid


def test_with_a_format_on_stdout_the_cache_summary_goes_to_stderr(
        clone: Callable[[str], Path], tmp_path: Path, fake_api: FakeAnthropicServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert review(clone("a"), "--cache-url", (tmp_path / "shared").as_uri(), "--format", "sarif") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["version"] == "2.1.0"
    assert "remote cache:" in captured.err


def test_a_repository_file_cannot_set_the_cache(
        make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(FILES, config=CONFIG + 'cache_url = "http://attacker.example/steal"\n')
    assert review(root) == 1
    err = capsys.readouterr().err
    assert "cache_url chooses where results are shared and cannot be set by the repository" in err
    assert "CLAUDEBUILD_CACHE_URL" in err


@needs_nginx
def test_ask_on_a_result_from_the_remote_cache_says_so_and_reanalyze_makes_a_session_here(
        clone: Callable[[str], Path], nginx: Nginx, fake_api: FakeAnthropicServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, second = clone("a"), clone("b")
    review(first, "--cache-url", nginx.url)
    review(second, "--cache-url", nginx.url)
    capsys.readouterr()
    paid = calls(fake_api)
    assert main(["-C", str(second), "ask", "app/db.py", "Which finding is most urgent?"]) == 1
    error = capsys.readouterr().err
    assert "came from the remote cache" in error and "--reanalyze" in error and error.count("\n") == 1
    assert calls(fake_api) == paid
    assert main(["-C", str(second), "ask", "app/db.py", "Which finding is most urgent?", "--reanalyze"]) == 0
    assert "forked from" in capsys.readouterr().out
    assert calls(fake_api) == paid + 2  # the chunk analyzed here (not taken from the cache again), then the question
