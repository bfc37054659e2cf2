"""Configuration: precedence, validation, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from claudebuild.config_sources import load_config
from claudebuild.errors import ClaudebuildError


def test_defaults_apply_without_any_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.max_files_per_chunk == 20 and config.max_chunk_bytes == 25_000 and config.root == tmp_path.resolve()


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
    with pytest.raises(ClaudebuildError, match=r"nope.md"):
        load_config(tmp_path)


@pytest.mark.parametrize("line, key, kind", [
    ("max_file_bytes = inf", "max_file_bytes", "a whole number"),
    ("max_file_bytes = 1e400", "max_file_bytes", "a whole number"),
    ("call_timeout = inf", "call_timeout", "a finite number"),
    ("call_timeout = nan", "call_timeout", "a finite number"),
    ("retry_patience = -inf", "retry_patience", "a finite number"),
])
def test_an_infinite_or_undefined_number_is_one_line_naming_file_key_and_kind(
        tmp_path: Path, line: str, key: str, kind: str) -> None:
    (tmp_path / "claudebuild.toml").write_text(line + "\n")
    with pytest.raises(ClaudebuildError) as error:
        load_config(tmp_path)
    assert str(error.value).startswith(f"claudebuild.toml: {key} must be {kind}") and "\n" not in str(error.value)


@pytest.mark.parametrize("line", ["call_timeout = 1e300", "lock_timeout = 99999999999", "max_file_bytes = 99999999999999999999"])
def test_a_number_too_large_to_wait_or_read_is_refused_with_the_limit(tmp_path: Path, line: str) -> None:
    (tmp_path / "claudebuild.toml").write_text(line + "\n")
    with pytest.raises(ClaudebuildError, match=f"{line.split()[0]} must be at most"):
        load_config(tmp_path)


@pytest.mark.parametrize("line", ["fail_on_error = 1", 'fail_on_error = "yes"', 'fail_on_error = "false"'])
def test_a_settings_file_boolean_must_be_toml_true_or_false(tmp_path: Path, line: str) -> None:
    (tmp_path / "claudebuild.toml").write_text(line + "\n")
    with pytest.raises(ClaudebuildError, match=r"claudebuild.toml: fail_on_error must be true or false"):
        load_config(tmp_path)


@pytest.mark.parametrize("line", ["max_turns = true", 'max_turns = "5"', "max_turns = 5.0", "tpm = 1.5"])
def test_a_settings_file_whole_number_must_be_a_toml_integer(tmp_path: Path, line: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.claudebuild]\n{line}\n")
    with pytest.raises(ClaudebuildError, match=r"pyproject.toml \[tool.claudebuild\]: \w+ must be a whole number"):
        load_config(tmp_path)


def test_a_quoted_number_says_to_drop_the_quotes(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text('call_timeout = "30"\n')
    with pytest.raises(ClaudebuildError, match="without quotes"):
        load_config(tmp_path)


def test_a_whole_number_of_seconds_is_a_valid_duration(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text("call_timeout = 30\n")
    assert load_config(tmp_path).call_timeout == 30.0


@pytest.mark.parametrize("line", ['ignore = "vendor/**"', "ignore = [1]", "formats = [true]"])
def test_a_list_setting_must_be_a_list_of_strings(tmp_path: Path, line: str) -> None:
    (tmp_path / "claudebuild.toml").write_text(line + "\n")
    with pytest.raises(ClaudebuildError, match="must be a list of strings"):
        load_config(tmp_path)


def test_flags_and_the_environment_may_still_give_strings(tmp_path: Path) -> None:
    config = load_config(tmp_path, {"fail_on_error": "no", "tpm": "1000"})
    assert (config.fail_on_error, config.tpm) == (False, 1000)


def test_a_flag_value_is_checked_for_finiteness_too(tmp_path: Path) -> None:
    with pytest.raises(ClaudebuildError, match="option --tpm: tpm must be a whole number, got 'inf'"):
        load_config(tmp_path, {"tpm": "inf"})


def test_a_claudebuild_tool_entry_that_is_not_a_table_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool]\nclaudebuild = 5\n")
    with pytest.raises(ClaudebuildError, match=r"\[tool.claudebuild\] must be a table"):
        load_config(tmp_path)
