"""The pre-commit hook with a real git repository, the real CLI and the real pre-commit package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.main import main

from conftest import REPO, git, needs_claude, run_cli

pytestmark = [needs_claude, pytest.mark.e2e]

CLEAN = {
    "app/db.py": "def connect(url):\n    return url\n",
    "app/api.py": "def handle(request):\n    return request\n",
    "lib/text.py": "def shout(text):\n    return text.upper()\n",
}


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    root = make_repo(CLEAN, config="max_files_per_chunk = 1\n")
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".claudebuild/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def hook(root: Path, *args: str) -> int:
    return main(["-C", str(root), "hook", "run", *args])


def test_the_hook_reviews_staged_content_not_the_working_tree(repo: Path, fake_api: FakeAnthropicServer) -> None:
    (repo / "app/db.py").write_text("def connect(url):\n    return eval(url)\n")
    git(repo, "add", "app/db.py")
    (repo / "app/db.py").write_text("def connect(url):\n    return url.strip()\n")
    assert hook(repo) == 1
    requests = fake_api.message_requests()
    assert len(requests) == 1
    assert "return eval(url)" in requests[0].user_text and "url.strip()" not in requests[0].user_text


def test_only_chunks_with_staged_files_are_analyzed(repo: Path, fake_api: FakeAnthropicServer) -> None:
    (repo / "lib/text.py").write_text("def shout(text):\n    return text.upper() + '!'\n")
    git(repo, "add", "lib/text.py")
    assert hook(repo) == 0
    requests = fake_api.message_requests()
    assert len(requests) == 1 and ' "lib/text.py"\n' in requests[0].user_text


def test_the_hook_reuses_a_normal_run_and_a_normal_run_reuses_the_hook(repo: Path, fake_api: FakeAnthropicServer) -> None:
    (repo / "lib/text.py").write_text("def shout(text):\n    # TODO: unicode\n    return text.upper()\n")
    assert main(["-C", str(repo), "analyze"]) == 0
    analyzed = len(fake_api.message_requests())
    git(repo, "add", "lib/text.py")
    assert hook(repo) == 0
    assert len(fake_api.message_requests()) == analyzed
    (repo / "app/api.py").write_text("def handle(request):\n    return request.body\n")
    git(repo, "add", "app/api.py")
    assert hook(repo) == 0
    assert len(fake_api.message_requests()) == analyzed + 1
    assert main(["-C", str(repo), "analyze"]) == 0
    assert len(fake_api.message_requests()) == analyzed + 1


def test_findings_below_the_gate_do_not_block(repo: Path, fake_api: FakeAnthropicServer, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "lib/text.py").write_text("def shout(text):\n    # TODO: unicode\n    return text.upper()\n")
    git(repo, "add", "lib/text.py")
    assert hook(repo) == 0
    assert "lib/text.py:2: low:" in capsys.readouterr().out
    assert hook(repo, "--fail-on", "low") == 1


def test_with_verify_on_a_refuted_finding_does_not_block_and_analyze_reuses_the_verdict(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(CLEAN, config="max_files_per_chunk = 1\nverify = true\n")
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".claudebuild/\n")
    (root / "app/safe.py").write_text("# never call eval(text) on input here\ndef parse(text):\n    return int(text)\n")
    git(root, "add", "-A")
    assert hook(root, "--fail-on", "low") == 0  # the reviewer's eval finding is a false positive the verifier refutes
    assert "app/safe.py" not in capsys.readouterr().out
    assert any(" FINDING>>>" in request.user_text for request in fake_api.message_requests())
    fake_api.reset()
    assert main(["-C", str(root), "report", "-n", "2"]) == 0
    assert not any(" FINDING>>>" in request.user_text for request in fake_api.message_requests())


def test_an_installed_git_hook_blocks_a_commit_with_a_serious_finding(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert main(["-C", str(repo), "hook", "install"]) == 0
    (repo / "app/api.py").write_text("import os\n\n\ndef handle(request):\n    os.system('rm ' + request)\n")
    git(repo, "add", "app/api.py")
    output = git(repo, "commit", "-m", "dangerous", check=False)
    assert "commit blocked" in output
    assert "dangerous" not in git(repo, "log", "--oneline")
    (repo / "app/api.py").write_text("def handle(request):\n    return request.strip()\n")
    git(repo, "add", "app/api.py")
    git(repo, "commit", "-q", "-m", "safe")
    assert "safe" in git(repo, "log", "--oneline")


def test_the_pre_commit_framework_runs_the_hook_and_blocks(repo: Path, fake_api: FakeAnthropicServer, tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None:
        pytest.skip("the pre-commit package is not installed: pip install -e '.[test]'")
    config = (
        "repos:\n  - repo: local\n    hooks:\n      - id: claudebuild\n        name: claudebuild\n"
        f"        entry: {sys.executable} -m claudebuild hook run\n        language: system\n"
        "        pass_filenames: true\n        require_serial: true\n        types: [text]\n"
    )
    (repo / ".pre-commit-config.yaml").write_text(config)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    (repo / "app/db.py").write_text("def find(cursor, name):\n    cursor.execute(f\"SELECT * FROM t WHERE n = '{name}'\")\n")
    (repo / "lib/text.py").write_text("def shout(text):\n    return text.upper() + 'unstaged, stashed by pre-commit'\n")
    git(repo, "add", "app/db.py", ".pre-commit-config.yaml")
    done = subprocess.run([pre_commit, "run"], cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "app/db.py:2: high" in done.stdout
    assert "unstaged, stashed" not in fake_api.received_text()


def test_the_shipped_hook_manifest_is_valid_for_pre_commit() -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None:
        pytest.skip("the pre-commit package is not installed")
    done = subprocess.run([pre_commit, "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_two_hook_processes_at_once_both_finish_and_pay_once(repo: Path, fake_api: FakeAnthropicServer,
                                                            started: list[subprocess.Popen[str]]) -> None:
    fake_api.latency = 0.5
    (repo / "lib/text.py").write_text("def shout(text):\n    # FIXME: unicode\n    return text.upper()\n")
    git(repo, "add", "lib/text.py")
    first = subprocess.Popen([sys.executable, "-m", "claudebuild", "hook", "run"], cwd=repo, env=dict(os.environ),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(first)
    second = run_cli(["hook", "run"], cwd=repo)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, out + err + second.stdout + second.stderr
    assert len(fake_api.message_requests()) == 1


DJANGO = {
    "mysite/manage.py": "import sys\n\n\ndef main():\n    return sys.argv\n",
    "mysite/mysite/__init__.py": "",
    "mysite/mysite/settings.py": "DEBUG = False\nALLOWED_HOSTS = ['example.com']\n",
    "mysite/mysite/urls.py": "urlpatterns = []\n",
    "README.md": "A Django site.\n",
}
DANGEROUS_SETTINGS = "import os\n\nDEBUG = False\nos.system('rm ' + os.environ['TARGET'])\n"


@pytest.fixture
def django(make_repo: Callable[..., Path]) -> Path:
    """Django's standard layout, with claudebuild set up in the project directory `mysite/` of a larger repository."""
    top = make_repo(DJANGO, name="site")
    (top / "mysite/claudebuild.toml").write_text("max_files_per_chunk = 1\n")
    (top / ".gitignore").write_text(".claudebuild/\n")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "initial")
    return top


def test_a_real_commit_in_a_django_layout_reviews_the_staged_inner_settings(django: Path, fake_api: FakeAnthropicServer) -> None:
    assert main(["-C", str(django / "mysite"), "hook", "install"]) == 0
    (django / "mysite/mysite/settings.py").write_text(DANGEROUS_SETTINGS)
    git(django, "add", "mysite/mysite/settings.py")
    output = git(django, "commit", "-m", "dangerous", check=False)
    assert "commit blocked" in output and "mysite/settings.py:4: high" in output, output
    assert ' "mysite/settings.py"\n' in fake_api.received_text()
    assert "dangerous" not in git(django, "log", "--oneline")


def pre_commit_config(entry_args: str) -> str:
    return ("repos:\n  - repo: local\n    hooks:\n      - id: claudebuild\n        name: claudebuild\n"
            f"        entry: {sys.executable} -m claudebuild {entry_args}\n        language: system\n"
            "        pass_filenames: true\n        require_serial: true\n        types: [text]\n")


def test_pre_commit_run_all_files_in_ci_reviews_the_committed_files(django: Path, fake_api: FakeAnthropicServer,
                                                                     tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None:
        pytest.skip("the pre-commit package is not installed: pip install -e '.[test]'")
    (django / ".pre-commit-config.yaml").write_text(pre_commit_config("-C mysite hook run"))
    (django / "mysite/mysite/settings.py").write_text(DANGEROUS_SETTINGS)
    git(django, "add", "-A")
    git(django, "commit", "-q", "-m", "as CI checks it out")  # nothing staged, as on a CI runner
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    done = subprocess.run([pre_commit, "run", "--all-files"], cwd=django, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "as in the working tree" in done.stdout
    assert "mysite/settings.py:4: high" in done.stdout
    assert len(fake_api.message_requests()) == 3  # manage.py, settings.py, urls.py: not the empty __init__.py, not ../README.md
    fake_api.reset()
    again = subprocess.run([pre_commit, "run", "--files", "mysite/manage.py"], cwd=django, env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert fake_api.message_requests() == []  # the stored result for the same content


def test_after_a_run_the_hook_never_lists_the_tree(repo: Path, fake_api: FakeAnthropicServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from claudebuild.pipeline import discover, discover_memo

    monkeypatch.setattr(discover_memo, "RACY_NS", 0)
    assert main(["-C", str(repo), "analyze"]) == 0
    analyzed = len(fake_api.message_requests())

    def no_listing(*args: object) -> None:
        raise AssertionError("the hook listed the whole tree")

    monkeypatch.setattr(discover, "list_candidates", no_listing)
    (repo / "lib/text.py").write_text("def shout(text):\n    return eval(text)\n")
    git(repo, "add", "lib/text.py")
    assert hook(repo) == 1
    requests = fake_api.message_requests()[analyzed:]
    assert len(requests) == 1 and ' "lib/text.py"\n' in requests[0].user_text
