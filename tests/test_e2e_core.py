"""End to end: the real claude CLI against the local fake API, through `claudebuild` and plain `doit`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claudebuild.run.build import Build
from claudebuild.config_sources import load_config
from claudebuild.fakeapi import FakeAnthropicServer, Fault
from claudebuild.main import main
from claudebuild.engine.store import read_task_values

from conftest import claude_pids_in, needs_claude, run_cli, wait_until

pytestmark = [needs_claude, pytest.mark.e2e]

SMALL_CONFIG = "max_files_per_chunk = 2\n"
TWO_CHUNKS = "max_files_per_chunk = 4\n"
FILES = {
    "app/db.py": 'def find(cursor, name):\n    cursor.execute(f"SELECT * FROM users WHERE name = \'{name}\'")\n    return cursor.fetchall()\n',
    "app/api.py": "import json\n\n\ndef parse(text):\n    return eval(text)\n",
    "app/models.py": "class User:\n    def __init__(self, name):\n        self.name = name\n",
    "app/views.py": "def render(user):\n    return f'<p>{user.name}</p>'\n",
    "lib/retry.py": "def retry(fn):\n    try:\n        return fn()\n    except:\n        return None\n",
    "lib/text.py": "def shout(text):\n    # TODO: handle unicode properly\n    return text.upper()\n",
    "scripts/deploy.py": "import os\n\n\ndef deploy(host):\n    os.system('ssh ' + host)\n",
}


def chunk_ids(root: Path) -> list[str]:
    with Build(load_config(root)) as build:
        return [chunk.id for chunk in build.plan().chunks]


def analyze(root: Path, *extra: str, jobs: int = 3) -> int:
    return main(["-C", str(root), *extra, "report", "-n", str(jobs)])


def report_json(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())


def calls(api: FakeAnthropicServer) -> int:
    return len(api.message_requests())


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES, config=SMALL_CONFIG)


@pytest.fixture
def two_chunk_repo(make_repo: Callable[..., Path]) -> Path:
    """The same files in two chunks: for behaviours that need several chunks, not many (each call starts a CLI)."""
    return make_repo(FILES, config=TWO_CHUNKS)


@pytest.mark.both_clis
def test_a_cold_run_analyzes_every_chunk_exactly_once(repo: Path, fake_api: FakeAnthropicServer) -> None:
    ids = chunk_ids(repo)
    assert len(ids) >= 4
    assert analyze(repo) == 0
    assert calls(fake_api) == len(ids)
    texts = [request.user_text for request in fake_api.message_requests()]
    for path in FILES:
        assert sum(f' "{path}"\n' in text for text in texts) == 1
    report = report_json(repo)
    assert report["summary"]["fresh"] == len(ids) and report["summary"]["failed"] == 0
    assert {(f["file"], f["line"]) for f in report["findings"]} >= {("app/db.py", 2), ("app/api.py", 5), ("lib/retry.py", 4)}


@pytest.mark.both_clis
def test_a_finding_the_model_placed_at_the_nearest_mark_is_reported_at_its_exact_line(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    lines = [f"value_{n} = {n}" for n in range(1, 31)]
    lines[13] = "result = eval(user_input)  # SLOPPY-LINE"  # line 14: the fake model says 10, the nearest mark
    lines[26] = "again = eval(user_input)  # SLOPPY-LINE"  # line 27: the fake model says 30
    root = make_repo({"mod.py": "\n".join(lines) + "\n"})
    assert analyze(root) == 0
    assert "\n10|value_10 = 10\n" in fake_api.received_text()  # only every tenth line carries its number
    assert [(f["line"], f["end_line"], f["verified"]) for f in report_json(root)["findings"]] == [(14, 14, True), (27, 27, True)]


@pytest.mark.both_clis
def test_an_immediate_rerun_makes_no_api_call_and_the_same_report(repo: Path, fake_api: FakeAnthropicServer) -> None:
    analyze(repo)
    first = report_json(repo)
    before = calls(fake_api)
    assert analyze(repo) == 0
    assert calls(fake_api) == before
    second = report_json(repo)
    without_status = lambda findings: [{k: v for k, v in f.items() if k != "status"} for f in findings]  # noqa: E731
    assert without_status(second["findings"]) == without_status(first["findings"])
    assert {f["status"] for f in second["findings"]} == {"persisting"}
    assert second["summary"]["cached"] == first["summary"]["fresh"]
    assert second["summary"]["cost_usd_saved_by_cache"] == pytest.approx(first["summary"]["cost_usd_this_run"])


@pytest.mark.both_clis
def test_editing_one_file_reanalyzes_only_its_chunk(repo: Path, fake_api: FakeAnthropicServer) -> None:
    analyze(repo)
    fake_api.reset()
    with open(repo / "lib/text.py", "a") as handle:
        handle.write("\n\ndef whisper(text):\n    return eval('text.lower()')\n")
    assert analyze(repo) == 0
    requests = fake_api.message_requests()
    assert len(requests) == 1 and ' "lib/text.py"\n' in requests[0].user_text
    assert ("lib/text.py", 7) in {(f["file"], f["line"]) for f in report_json(repo)["findings"]}


@pytest.mark.parametrize("setting", ['model = "claude-opus-4-1"', 'instructions = "Only report security bugs."'])
def test_changing_the_model_or_prompt_reanalyzes_everything(two_chunk_repo: Path, fake_api: FakeAnthropicServer, setting: str) -> None:
    repo = two_chunk_repo
    analyze(repo)
    fake_api.reset()
    (repo / "claudebuild.toml").write_text(TWO_CHUNKS + setting + "\n")
    assert analyze(repo) == 0
    assert calls(fake_api) == len(chunk_ids(repo)) == 2


def test_deleting_a_file_drops_its_findings_and_its_stored_result(repo: Path, fake_api: FakeAnthropicServer) -> None:
    analyze(repo)
    old_ids = set(chunk_ids(repo))
    (repo / "scripts/deploy.py").unlink()
    assert analyze(repo) == 0
    assert "scripts/deploy.py" not in {f["file"] for f in report_json(repo)["findings"]}
    stored = {name.removeprefix("analyze:") for name in read_task_values(repo / ".claudebuild" / "doit.sqlite")}
    assert stored == set(chunk_ids(repo)) and stored != old_ids


@pytest.mark.both_clis
def test_a_failed_chunk_is_not_cached_is_reported_and_succeeds_next_run(repo: Path, fake_api: FakeAnthropicServer) -> None:
    # Until the reset below: CLI 2.1.197 sends a request that gets a 400 once, 2.1.332 sends it three times.
    fake_api.add_fault(Fault(match=' "lib/retry.py"\n', status=400, error_type="invalid_request_error",
                             message="this chunk is unacceptable"))
    assert analyze(repo) == 1
    report = report_json(repo)
    assert len(report["failed_chunks"]) == 1
    failed = report["failed_chunks"][0]
    assert "lib/retry.py" in failed["files"] and "unacceptable" in failed["message"]
    assert "lib/retry.py" not in {f["file"] for f in report["findings"]}
    fake_api.reset()
    assert analyze(repo) == 0
    requests = fake_api.message_requests()
    assert len(requests) == 1 and ' "lib/retry.py"\n' in requests[0].user_text
    assert report_json(repo)["failed_chunks"] == []


@pytest.mark.both_clis
def test_kill_9_mid_run_keeps_finished_chunks(make_repo: Callable[..., Path], fake_api: FakeAnthropicServer,
                                              started: list[subprocess.Popen[Any]]) -> None:
    files = {f"pkg{i}/mod{j}.py": f"def f{i}_{j}():\n    return {i * 10 + j}\n" for i in range(4) for j in range(2)}
    root = make_repo(files, config="max_files_per_chunk = 1\n")
    ids = chunk_ids(root)
    fake_api.latency = 0.6
    process = subprocess.Popen([sys.executable, "-m", "claudebuild", "analyze", "-n", "2"], cwd=root, env=dict(os.environ),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started.append(process)
    db = root / ".claudebuild" / "doit.sqlite"
    wait_until(lambda: len(read_task_values(db)) >= 3, timeout=120, what="3 stored chunks")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    for pid in claude_pids_in(root / ".claudebuild" / "session-cwd"):  # the CLIs it left behind, as a CI timeout would
        os.kill(pid, signal.SIGKILL)
    finished = {name.removeprefix("analyze:") for name, v in read_task_values(db).items() if v.get("status") == "ok"}
    assert 3 <= len(finished) < len(ids)
    fake_api.latency = 0.0
    fake_api.reset()
    assert analyze(root) == 0
    again = fake_api.message_requests()
    assert len(again) == len(ids) - len(finished)
    for chunk_id in finished:
        assert not any(f' "{chunk_id}"\n' in request.user_text for request in again)


def test_doit_list_info_and_forget_work_on_chunk_tasks(two_chunk_repo: Path, fake_api: FakeAnthropicServer) -> None:
    repo = two_chunk_repo
    analyze(repo)
    ids = chunk_ids(repo)
    listed = run_cli(["list", "--all", "--status"], cwd=repo)
    assert listed.returncode == 0, listed.stderr
    for chunk_id in ids:
        assert f"U analyze:{chunk_id}" in listed.stdout
    info = run_cli(["info", f"analyze:{ids[0]}"], cwd=repo)
    assert info.returncode == 0 and "file_dep" in info.stdout
    forgot = run_cli(["forget", f"analyze:{ids[0]}"], cwd=repo)
    assert forgot.returncode == 0, forgot.stderr
    fake_api.reset()
    assert analyze(repo) == 0
    assert calls(fake_api) == 1


def test_plain_doit_runs_the_tasks_from_the_dodo_file_init_writes(two_chunk_repo: Path, fake_api: FakeAnthropicServer) -> None:
    repo = two_chunk_repo
    assert main(["-C", str(repo), "init"]) == 0
    assert ".claudebuild/" in (repo / ".gitignore").read_text()
    done = subprocess.run([sys.executable, "-m", "doit", "-n", "3", "analyze"], cwd=repo, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls(fake_api) == len(chunk_ids(repo))
    again = subprocess.run([sys.executable, "-m", "doit", "report"], cwd=repo, capture_output=True, text=True, timeout=300,
                           check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert calls(fake_api) == len(chunk_ids(repo))
    assert report_json(repo)["summary"]["cached"] == len(chunk_ids(repo))


def test_a_custom_state_directory_is_never_analyzed(make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    root = make_repo({"app.py": "def f():\n    return eval('1')\n"}, config='state_dir = ".cache/review"\n')
    assert analyze(root) == 0
    assert analyze(root) == 0
    assert calls(fake_api) == 1
    assert 'FILE \".cache/' not in fake_api.received_text()
    assert (root / ".cache/review/report.json").exists()
