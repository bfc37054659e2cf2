"""The `claudebuild` command without API calls: init, config, help, errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from claudebuild import main as main_module
from claudebuild.main import main


def test_init_writes_the_dodo_file_ignore_file_and_config_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path), "init"]) == 0
    assert {"dodo.py", ".claudeignore", "claudebuild.toml", ".gitignore"} <= {p.name for p in tmp_path.iterdir()}
    assert "dodo_tasks" in (tmp_path / "dodo.py").read_text()
    assert (tmp_path / ".gitignore").read_text() == ".claudebuild/\n"
    assert main(["-C", str(tmp_path), "init"]) == 0
    assert "already set up" in capsys.readouterr().out
    assert (tmp_path / ".gitignore").read_text() == ".claudebuild/\n"


def test_init_refuses_to_replace_someone_elses_dodo_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dodo.py").write_text("def task_build():\n    return {'actions': ['make']}\n")
    assert main(["-C", str(tmp_path), "init"]) == 1
    assert "--force" in capsys.readouterr().err


def test_config_shows_each_value_and_where_it_came_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "claudebuild.toml").write_text("max_turns = 5\n")
    assert main(["-C", str(tmp_path), "--model", "claude-opus-4-1", "config", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["max_turns"] == {"value": 5, "source": "claudebuild.toml"}
    assert shown["model"] == {"value": "claude-opus-4-1", "source": "command line --model"}
    assert shown["call_timeout"]["source"] == "default"


def test_a_bad_config_file_is_one_line_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "claudebuild.toml").write_text("formats = ['pdf']\n")
    assert main(["-C", str(tmp_path), "analyze"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown report format 'pdf'" in err


def test_a_missing_directory_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path / "nope"), "analyze"]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_a_bad_shard_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path), "analyze", "--shard", "4/3"]) == 1
    assert "--shard" in capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("init", "analyze", "report", "hook", "merge", "config", "demo"):
        assert f"\n  {command}" in out


# -- the repository root: found like git and ruff find theirs -----------------------------------


def git_init(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
    return root


def shown_root(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str]:
    capsys.readouterr()
    assert main([*args, "config", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["root"]


def test_from_a_subdirectory_the_nearest_claudebuild_toml_is_the_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "service" / "deep").mkdir(parents=True)
    (repo / "service" / "claudebuild.toml").write_text("max_turns = 4\n")
    monkeypatch.chdir(repo / "service" / "deep")
    assert shown_root(capsys) == {"value": str(repo / "service"), "source": "nearest claudebuild.toml"}


def test_a_pyproject_with_a_claudebuild_table_marks_the_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "lib" / "src").mkdir(parents=True)
    (repo / "lib" / "pyproject.toml").write_text("[tool.claudebuild]\nmax_turns = 4\n")
    monkeypatch.chdir(repo / "lib" / "src")
    assert shown_root(capsys)["value"] == str(repo / "lib")


def test_a_pyproject_without_a_claudebuild_table_does_not_mark_the_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "lib").mkdir()
    (repo / "lib" / "pyproject.toml").write_text("[tool.ruff]\nline-length = 120\n# not claudebuild's\n")
    monkeypatch.chdir(repo / "lib")
    assert shown_root(capsys) == {"value": str(repo), "source": "top of the git work tree"}


def test_without_settings_the_top_of_the_git_work_tree_is_the_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(repo / "a" / "b")
    assert shown_root(capsys) == {"value": str(repo), "source": "top of the git work tree"}


def test_settings_above_the_git_work_tree_belong_to_something_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "claudebuild.toml").write_text("")
    repo = git_init(tmp_path / "repo")
    monkeypatch.chdir(repo)
    assert shown_root(capsys)["value"] == str(repo)


def test_outside_git_without_settings_the_current_directory_is_the_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert shown_root(capsys)["value"] == str(tmp_path / "here")


def test_outside_git_a_settings_file_in_the_home_directory_never_widens_the_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    (home / "scratch").mkdir(parents=True)
    (home / "claudebuild.toml").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home / "scratch")
    assert shown_root(capsys)["value"] == str(home / "scratch")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a file to another user")
def test_outside_git_a_settings_file_of_another_user_above_is_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "shared" / "mine").mkdir(parents=True)
    planted = tmp_path / "shared" / "claudebuild.toml"
    planted.write_text("")
    os.chown(planted, 65534, 65534)
    monkeypatch.chdir(tmp_path / "shared" / "mine")
    assert shown_root(capsys)["value"] == str(tmp_path / "shared" / "mine")


def test_C_names_the_root_exactly_without_a_search(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "claudebuild.toml").write_text("")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo)
    assert shown_root(capsys, "-C", "sub") == {"value": str(repo / "sub"), "source": "given with -C"}


def test_config_says_which_root_and_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "claudebuild.toml").write_text("")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["config"]) == 0
    assert f"# root: {tmp_path} (nearest claudebuild.toml)\n" in capsys.readouterr().out


def test_a_broken_pyproject_that_mentions_claudebuild_is_one_line_not_a_guess(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "pyproject.toml").write_text("[tool.claudebuild\nmodel = \n")
    monkeypatch.chdir(repo)
    assert main(["config"]) == 1
    err = capsys.readouterr().err
    assert "pyproject.toml is not valid TOML" in err and "-C DIR" in err and err.count("\n") == 1


def test_init_sets_up_the_current_directory_not_the_found_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "claudebuild.toml").write_text("")
    (repo / "service").mkdir()
    monkeypatch.chdir(repo / "service")
    assert main(["init"]) == 0
    assert (repo / "service" / "dodo.py").is_file() and not (repo / "dodo.py").exists()


def test_a_doit_command_with_a_missing_C_directory_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["-C", "missing", "list"]) == 1
    assert "-C missing is not a directory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_doit_command_with_C_at_a_file_is_one_line_and_writes_no_crash_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["-C", "app.py", "info", "analyze"]) == 1
    err = capsys.readouterr().err
    assert "-C app.py is not a directory (it is a file)" in err and err.count("\n") == 1
    assert [path.name for path in tmp_path.iterdir()] == ["app.py"]


def test_an_unquoted_file_name_starting_with_a_dash_is_told_to_come_after_double_dash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path), "ask", "-dash.py", "why?"]) == 2
    err = capsys.readouterr().err
    assert "'-dash.py' is not an option of ask" in err and 'claudebuild ask -- -dash.py "your question"' in err


def test_a_question_with_spaces_that_starts_with_a_dash_is_not_taken_for_an_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    assert main(["-C", str(tmp_path), "ask", "app.py", "-1 here, why?"]) == 1
    assert "never analyzed" in capsys.readouterr().err


def test_the_crash_log_names_the_cli_that_CLAUDEBUILD_CLAUDE_points_at(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = tmp_path / "bin" / "my-claude"
    cli.parent.mkdir()
    cli.write_text("#!/bin/sh\necho '2.1.197 (Claude Code)'\n")
    cli.chmod(0o755)
    monkeypatch.setenv("CLAUDEBUILD_CLAUDE", str(cli))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    log = main_module._write_crash_log("Traceback: boom\n", tmp_path)
    assert log.read_text().splitlines()[0].endswith("claude: 2.1.197 (Claude Code)")


def test_a_crash_run_from_a_subdirectory_logs_in_the_roots_state_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from claudebuild.commands import sessions

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("boom")

    (tmp_path / "claudebuild.toml").write_text("")
    (tmp_path / "sub").mkdir()
    monkeypatch.setattr(sessions, "run_sessions", broken)
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["sessions"]) == 3
    assert "RuntimeError: boom" in (tmp_path / ".claudebuild" / "crash.log").read_text()
    assert not (tmp_path / "sub" / ".claudebuild").exists()
    assert "crash.log" in capsys.readouterr().err


def test_an_installed_hook_names_its_root_so_git_running_it_at_the_top_finds_the_same_one(tmp_path: Path) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "service").mkdir()
    assert main(["-C", str(repo / "service"), "hook", "install"]) == 0
    assert "cd service && exec " in (repo / ".git" / "hooks" / "pre-commit").read_text()
    assert " -m claudebuild -C . hook run" in (repo / ".git" / "hooks" / "pre-commit").read_text()
