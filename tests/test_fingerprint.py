"""Fingerprints identify a finding by what it flags, not where: they survive edits above it."""

from __future__ import annotations

import re
from dataclasses import replace

from claudebuild.pipeline.triage.fingerprint import fingerprint, normalise_code, unique_fingerprints
from claudebuild.model import Finding

BASE = Finding(file="app/a.py", line=3, end_line=4, severity="high", category="security/eval",
               title="Use of eval()", message="eval runs arbitrary code", quote="result = eval(user_input)")


def test_a_fingerprint_is_sixteen_hex_characters() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint(BASE))


def test_a_finding_moved_down_by_inserted_lines_keeps_its_fingerprint() -> None:
    moved = replace(BASE, line=BASE.line + 25, end_line=BASE.end_line + 25)
    assert fingerprint(moved) == fingerprint(BASE)


def test_a_reworded_title_or_message_or_new_severity_keeps_the_fingerprint() -> None:
    reworded = replace(BASE, title="eval() on input", message="Do not do this", severity="critical")
    assert fingerprint(reworded) == fingerprint(BASE)


def test_the_same_category_in_another_file_has_another_fingerprint() -> None:
    assert fingerprint(replace(BASE, file="app/b.py")) != fingerprint(BASE)


def test_the_same_category_on_other_code_has_another_fingerprint() -> None:
    assert fingerprint(replace(BASE, quote="result = eval(other)")) != fingerprint(BASE)


def test_another_category_on_the_same_code_has_another_fingerprint() -> None:
    assert fingerprint(replace(BASE, category="security/injection")) != fingerprint(BASE)


def test_the_category_is_compared_without_case() -> None:
    assert fingerprint(replace(BASE, category="Security/EVAL")) == fingerprint(BASE)


def test_reindented_or_rewrapped_code_keeps_the_fingerprint() -> None:
    assert fingerprint(replace(BASE, quote="\t  result   =\n eval(user_input)  \n")) == fingerprint(BASE)


def test_normalise_code_collapses_and_strips_every_kind_of_whitespace() -> None:
    assert normalise_code("  if x:\r\n\t\treturn   y \u00a0") == "if x: return y"


def test_without_a_quote_the_source_line_identifies_the_code() -> None:
    unquoted = replace(BASE, quote="")
    assert fingerprint(unquoted, "    result = eval(user_input)") == fingerprint(BASE)


def test_without_any_code_the_title_identifies_the_finding() -> None:
    bare = replace(BASE, quote="")
    assert fingerprint(bare) == fingerprint(replace(bare, line=99))
    assert fingerprint(bare) != fingerprint(replace(bare, title="Another problem"))


def test_a_title_never_collides_with_code_that_reads_the_same() -> None:
    titled = replace(BASE, quote="", title="x = 1")
    assert fingerprint(titled) != fingerprint(replace(BASE, quote="x = 1"))


def test_repeats_of_the_same_code_get_distinct_ids_and_the_first_keeps_the_plain_one() -> None:
    copies = [BASE, replace(BASE, line=10, end_line=10), replace(BASE, line=20, end_line=20)]
    ids = unique_fingerprints(copies)
    assert ids[0] == fingerprint(BASE)
    assert len(set(ids)) == 3


def test_repeat_ids_survive_lines_inserted_above_them() -> None:
    copies = [BASE, replace(BASE, line=10, end_line=10)]
    shifted = [replace(f, line=f.line + 7, end_line=f.end_line + 7) for f in copies]
    assert unique_fingerprints(shifted) == unique_fingerprints(copies)


def test_an_inline_marker_in_the_quote_does_not_change_the_id() -> None:
    marked = replace(BASE, quote="result = eval(user_input)  # claudebuild: ignore[security] reviewed")
    assert unique_fingerprints([marked]) == unique_fingerprints([BASE])


def test_an_unquoted_finding_is_identified_by_its_line_without_the_marker() -> None:
    unquoted = replace(BASE, quote="")
    lines = {"app/a.py": ["", "", "result = eval(user_input)  # claudebuild: ignore[*] ok"]}
    assert unique_fingerprints([unquoted], lines) == (fingerprint(BASE),)
