"""Configuration: precedence, validation, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from claudebuild.config import load_config
from claudebuild.errors import ClaudebuildError


def test_defaults_apply_without_any_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.max_files_per_chunk == 20 and config.root == tmp_path.resolve()


def test_claudebuild_toml_overrides_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.claudebuild]\nmodel = "a"\nmax_turns = 4\n')
    (tmp_path / "claudebuild.toml").write_text('model = "b"\n')
    config = load_config(tmp_path)
    assert (config.model, config.max_turns) == ("b", 4)


def test_environment_and_flags_override_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "claudebuild.toml").write_text('model = "file"\n')
    monkeypatch.setenv("CLAUDEBUILD_MODEL", "env")
    assert load_config(tmp_path).model == "env"
    assert load_config(tmp_path, {"model": "flag"}).model == "flag"


def test_an_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text("max_file_per_chunk = 3\n")
    with pytest.raises(ClaudebuildError, match="did you mean 'max_files_per_chunk'"):
        load_config(tmp_path)


def test_a_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text('max_turns = "many"\n')
    with pytest.raises(ClaudebuildError, match="max_turns must be a whole number, got 'many'"):
        load_config(tmp_path)


def test_out_of_range_values_are_refused(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text("max_files_per_chunk = 0\n")
    with pytest.raises(ClaudebuildError, match="at least 1"):
        load_config(tmp_path)


def test_broken_toml_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text("model = \n")
    with pytest.raises(ClaudebuildError, match="not valid TOML"):
        load_config(tmp_path)


def test_instructions_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "review.md").write_text("Find bugs.")
    (tmp_path / "claudebuild.toml").write_text('instructions_file = "review.md"\n')
    assert load_config(tmp_path).instructions == "Find bugs."


def test_a_missing_instructions_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text('instructions_file = "nope.md"\n')
    with pytest.raises(ClaudebuildError, match="nope.md"):
        load_config(tmp_path)
