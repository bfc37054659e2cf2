"""Findings land on the exact line their quote stands on, whatever line the model counted."""

from __future__ import annotations

from typing import Any

from claudebuild.pipeline.locate import locate_findings, nearest_line, quoted_line

LINES = ("import os", "", "def f(x):", "    return eval(x)", "", "def g(x):", "    return eval(x)", "x = 1")
SECTIONS = {"a.py": (1, LINES)}


def finding(line: int, quote: str, end_line: int | None = None, path: str = "a.py") -> dict[str, Any]:
    return {"file": path, "line": line, "end_line": line if end_line is None else end_line, "quote": quote,
            "severity": "high", "category": "security/eval", "title": "t", "message": "m"}


def located(raw: dict[str, Any]) -> tuple[int, int]:
    (out,) = locate_findings([raw], SECTIONS)
    return out["line"], out["end_line"]


def test_a_finding_a_line_or_two_off_moves_to_the_line_its_quote_stands_on() -> None:
    assert located(finding(2, "def f(x):")) == (3, 3)


def test_of_two_occurrences_the_one_nearest_the_models_line_wins() -> None:
    assert located(finding(8, "return eval(x)")) == (7, 7)
    assert located(finding(3, "return eval(x)")) == (4, 4)


def test_a_finding_already_on_its_quoted_line_stays_there() -> None:
    assert located(finding(4, "return eval(x)")) == (4, 4)


def test_a_quote_on_no_line_sent_keeps_the_models_line() -> None:
    assert located(finding(5, "exec(y)", end_line=6)) == (5, 6)


def test_a_line_equal_to_the_quote_beats_a_nearer_line_that_only_contains_it() -> None:
    sections = {"a.py": (1, ("x = compute(y) + 1", "z = 2", "compute(y)"))}
    (out,) = locate_findings([finding(1, "compute(y)")], sections)
    assert out["line"] == 3


def test_the_range_moves_with_the_line_and_stays_within_what_was_sent() -> None:
    assert located(finding(2, "def f(x):", end_line=3)) == (3, 4)
    assert located(finding(6, "x = 1", end_line=9)) == (8, 8)


def test_a_multi_line_quote_is_found_by_its_first_line_and_spans_its_lines() -> None:
    assert located(finding(1, "def g(x):\n    return eval(x)")) == (6, 7)


def test_a_copied_mark_and_extra_whitespace_in_the_quote_are_ignored() -> None:
    assert quoted_line("  40|   return   eval(x) ") == "return eval(x)"
    assert located(finding(1, "7|    return  eval(x)")) == (4, 4)


def test_lines_of_a_part_are_numbered_from_its_first_line() -> None:
    assert nearest_line("b", 41, ("a", "b", "c"), 40) == 42


def test_findings_for_other_files_or_without_a_usable_quote_pass_through_untouched() -> None:
    raws = [finding(2, "def f(x):", path="b.py"), finding(2, ""), {**finding(2, "def f(x):"), "quote": 7}, "junk"]
    assert locate_findings(raws, SECTIONS) == tuple(raws)


def test_a_model_line_that_is_not_a_number_is_replaced_by_the_quotes_line() -> None:
    assert located({**finding(1, "x = 1"), "line": "eight", "end_line": None}) == (8, 8)
