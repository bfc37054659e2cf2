"""End to end: named checks and per-path rules, the real claude CLI against the local fake API.

The fake model reads a check's focus (`Report only security findings.`) and house rules
(``Never use `print(` ``) from the instructions, so each check answers differently; calls are
counted in the fake's request log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claudebuild.config_sources import load_config
from claudebuild.engine.store import read_task_values
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.main import main
from claudebuild.run.build import Build

from conftest import git, needs_claude

pytestmark = [needs_claude, pytest.mark.e2e]

FILES = {
    "app/db.py": 'def find(cursor, name):\n    cursor.execute(f"SELECT * FROM users WHERE name = \'{name}\'")\n    return cursor.fetchall()\n',
    "app/api.py": "import json\n\n\ndef parse(text):\n    print(text)\n    return eval(text)\n",
    "app/worker.py": "def work(job):\n    try:\n        job()\n    except:\n        pass\n",
    "lib/retry.py": "def retry(fn):\n    try:\n        return fn()\n    except:\n        return None\n",
    "lib/text.py": "def shout(text):\n    # TODO: handle unicode properly\n    print(text)\n    return text.upper()\n",
    "scripts/deploy.py": "import os\n\n\ndef deploy(host):\n    os.system('ssh ' + host)\n",
}

TWO_CHECKS = """\
max_files_per_chunk = 2

[[checks]]
name = "security"
instructions = "You review for security holes. Report only security findings."
paths = ["app/", "scripts/"]

[[checks]]
name = "quality"
instructions = "You review for robustness. Report only error-handling, maintainability findings."
paths = ["app/", "lib/"]
"""

RULES = """\
max_files_per_chunk = 2

[[rules]]
name = "no-print-in-app"
paths = ["app/"]
instructions = "Never use `print(`: log through app.log."

[[rules]]
name = "lib-is-pure"
paths = ["lib/"]
instructions = "Never use `global `: library code is pure."
"""


def run(root: Path, *extra: str) -> int:
    return main(["-C", str(root), *extra, "report", "-n", "3"])


def report_json(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())


def jobs(root: Path) -> list[tuple[str, tuple[str, ...]]]:
    with Build(load_config(root)) as build:
        return [(job.task, job.chunk.paths) for job in build.plan().jobs]


def files_sent(api: FakeAnthropicServer) -> list[set[str]]:
    """Per call, the files it carried."""
    return [{path for path in FILES if f' "{path}"\n' in request.user_text} for request in api.message_requests()]


@pytest.fixture
def checked(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES, config=TWO_CHECKS)


def test_two_checks_on_overlapping_paths_are_two_task_families_with_tagged_findings(
        checked: Path, fake_api: FakeAnthropicServer, capsys: pytest.CaptureFixture[str]) -> None:
    planned = jobs(checked)
    families = {task.partition(":")[0] for task, _ in planned}
    assert families == {"security", "quality"}
    assert run(checked) == 0
    assert len(fake_api.message_requests()) == len(planned)
    sent = files_sent(fake_api)
    assert sum("app/db.py" in files for files in sent) == 2  # both checks cover app/
    assert sum("lib/retry.py" in files for files in sent) == 1 and sum("scripts/deploy.py" in files for files in sent) == 1
    found = {(f["check"], f["file"], f["category"]) for f in report_json(checked)["findings"]}
    assert ("security", "app/api.py", "security/eval") in found
    assert ("security", "scripts/deploy.py", "security/shell-injection") in found
    assert ("quality", "app/worker.py", "error-handling/bare-except") in found
    assert ("quality", "lib/text.py", "maintainability/todo") in found
    assert not [f for f in found if f[0] == "security" and not f[2].startswith("security/")]
    assert not [f for f in found if f[0] == "quality" and f[2].startswith("security/")]
    stored = read_task_values(checked / ".claudebuild" / "doit.sqlite", [task for task, _ in planned])
    assert set(stored) == {task for task, _ in planned}
    capsys.readouterr()
    assert main(["-C", str(checked), "list"]) == 0
    listed = capsys.readouterr().out
    assert "security" in listed and "quality" in listed and "analyze" in listed


def test_one_check_runs_alone_by_its_name_and_a_rerun_makes_no_call(checked: Path, fake_api: FakeAnthropicServer) -> None:
    assert main(["-C", str(checked), "analyze", "-n", "3"]) == 0
    first = len(fake_api.message_requests())
    fake_api.reset()
    assert main(["-C", str(checked), "security"]) == 0  # as `doit security`
    assert main(["-C", str(checked), "report", "-n", "2"]) == 0
    assert fake_api.message_requests() == [] and first == len(jobs(checked))


def test_a_check_run_by_its_name_takes_n_parallel_calls_like_analyze(checked: Path, fake_api: FakeAnthropicServer) -> None:
    assert main(["-C", str(checked), "security", "-n", "3"]) == 0
    security = [task for task, _ in jobs(checked) if task.startswith("security:")]
    assert len(fake_api.message_requests()) == len(security)
    assert set(read_task_values(checked / ".claudebuild" / "doit.sqlite", security)) == set(security)


def test_a_check_run_by_its_name_refuses_a_jobs_count_below_one(checked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(checked), "security", "-n", "0"]) == 2
    assert "-n must be a whole number of at least 1" in capsys.readouterr().err


def test_editing_one_checks_instructions_reruns_only_its_chunks(checked: Path, fake_api: FakeAnthropicServer) -> None:
    assert run(checked) == 0
    planned = jobs(checked)
    fake_api.reset()
    (checked / "claudebuild.toml").write_text(TWO_CHECKS.replace("You review for robustness.", "Be thorough."))
    assert run(checked) == 0
    quality = [paths for task, paths in planned if task.startswith("quality:")]
    assert len(fake_api.message_requests()) == len(quality)
    assert sorted(map(sorted, files_sent(fake_api))) == sorted(sorted(paths) for paths in quality)


def test_the_hook_reviews_a_staged_file_with_each_check_and_a_later_analyze_reuses_it(
        checked: Path, fake_api: FakeAnthropicServer) -> None:
    git(checked, "init", "-q", "-b", "main")
    (checked / ".gitignore").write_text(".claudebuild/\n")
    git(checked, "add", "-A")
    git(checked, "commit", "-q", "-m", "initial")
    (checked / "app/api.py").write_text(FILES["app/api.py"] + "\n\ndef ping():\n    return 1\n")
    git(checked, "add", "app/api.py")
    main(["-C", str(checked), "hook", "run"])
    assert [files for files in files_sent(fake_api) if "app/api.py" in files] and len(files_sent(fake_api)) == 2
    assert run(checked) == 0  # the hook stored both results under the checks' task names, with their prompts
    assert len(fake_api.message_requests()) == len(jobs(checked))


def test_ask_resumes_the_session_of_a_checks_chunk(checked: Path, fake_api: FakeAnthropicServer,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run(checked) == 0
    capsys.readouterr()
    assert main(["-C", str(checked), "ask", "scripts/deploy.py", "Which finding is most urgent?"]) == 0  # security only
    out = capsys.readouterr().out
    assert "scripts/deploy.py" in out and "forked from" in out


def test_a_checks_own_fail_on_fails_the_run_on_that_checks_findings(make_repo: Callable[..., Path],
                                                                    fake_api: FakeAnthropicServer,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    gated = TWO_CHECKS.replace('paths = ["app/", "scripts/"]\n', 'paths = ["app/", "scripts/"]\nfail_on = "high"\n')
    assert gated != TWO_CHECKS
    assert run(make_repo(FILES, config=gated)) == 1  # the same files pass without it (the first test)
    assert "gate --fail-on none, security: high: FAILED" in capsys.readouterr().out


def test_editing_one_path_rule_reruns_only_the_chunks_it_matches(make_repo: Callable[..., Path],
                                                                  fake_api: FakeAnthropicServer) -> None:
    root = make_repo(FILES, config=RULES)
    assert run(root) == 0
    found = {(f["file"], f["category"]) for f in report_json(root)["findings"]}
    assert ("app/api.py", "house-rule") in found  # the app/ rule applies to app/ ...
    assert ("lib/text.py", "house-rule") not in found  # ... and not to lib/, whose own rule finds nothing
    fake_api.reset()
    (root / "claudebuild.toml").write_text(RULES.replace("Never use `global `", "Never use `print(`"))
    assert run(root) == 0
    sent = files_sent(fake_api)
    assert sent and all(files <= {"lib/retry.py", "lib/text.py"} for files in sent)
    assert set().union(*sent) == {"lib/retry.py", "lib/text.py"}
    assert ("lib/text.py", "house-rule") in {(f["file"], f["category"]) for f in report_json(root)["findings"]}


def test_without_checks_or_rules_the_task_names_are_the_plain_analyze_ones(make_repo: Callable[..., Path]) -> None:
    root = make_repo(FILES, config="max_files_per_chunk = 2\n")
    assert all(task.startswith("analyze:") and task.count(":") == 1 for task, _ in jobs(root))
