"""The `claudebuild` command without API calls: init, config, help, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
