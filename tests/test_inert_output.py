"""Model text is inert everywhere it is shown: terminals, CI logs, Markdown, HTML, XML and JSON.

File content, file names and everything the model writes are untrusted. These tests feed
the sanitizer (`claudebuild.untrusted_text`) and every renderer text an attacker-steered
model would write (the fake model's own hostile finding), and check that it comes out as
characters: no escape sequence reaches a terminal, no line of a log is a workflow command,
no Markdown or HTML element is made from it, every XML and JSON document stays valid. The
last test does the same through the real CLI, the fake API and `claudebuild` itself.
"""

from __future__ import annotations

import io
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from doit.task import Task

from claudebuild.config import FORMATS
from claudebuild.fakeapi import FakeAnthropicServer, review
from claudebuild.fakeapi.reviewer import HOSTILE_CATEGORY, HOSTILE_MARKER, HOSTILE_MESSAGE, HOSTILE_TITLE
from claudebuild.model import Finding
from claudebuild.engine.reporter import ProgressReporter
from claudebuild.engine.progress_state import chunk_label
from claudebuild.pipeline.prompt import end_fence, file_fence, number_lines
from claudebuild.render import github, gitlab, html, json_report, junit, markdown, rdjson, sarif, terminal
from claudebuild.pipeline.report import FailedChunk, Report
from claudebuild.untrusted_text import (clean, html_text, json_strings, markdown_code, markdown_text, one_line,
                                        sarif_text, terminal_block, terminal_text, workflow_data, workflow_property,
                                        xml_text)

from conftest import git, needs_claude, run_cli

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
QUOTE_LINE = '    return "<b>" + name + "</b>"  # `HOSTILE-FINDING` ``x``'
QUOTE = QUOTE_LINE.strip()
HOSTILE_FILE = {"app/hostile.py": f"def render(name):\n{QUOTE_LINE}\n"}
SHOWN_TITLE = "Model text with escapes ::error file=x::pwned"
"""The hostile title on one line, as every one-line context shows it: the escapes gone, the text kept."""
LIVE_ELEMENTS = {"img", "a", "script", "b", "iframe", "svg", "del", "s", "h4", "blockquote", "ol"}
"""Elements only model text could make in a report (our own markup makes none of them from model text)."""


def hostile(**fields: Any) -> Finding:
    """The finding the fake model writes for a line holding HOSTILE_MARKER (see fakeapi/reviewer.py)."""
    base = Finding(file="app/hostile.py", line=2, end_line=2, severity="high", category=HOSTILE_CATEGORY,
                   title=HOSTILE_TITLE, message=HOSTILE_MESSAGE, quote=QUOTE, chunk="app/hostile.py")
    return replace(base, **fields)


def report_of(*findings: Finding, failed: tuple[FailedChunk, ...] = ()) -> Report:
    return Report(findings=tuple(findings), failed=failed, pending=(), skipped_files={}, rejected={}, chunks_total=1,
                  files_total=1, fresh=1, cached=0, cost_this_run=0.01, cost_saved=0.0, cost_total=0.01,
                  input_tokens=10, output_tokens=5, run_id="now")


HOSTILE_REPORT = report_of(hostile(), failed=(FailedChunk("app/x.py", "error", HOSTILE_TITLE, ("app/x.py",)),))


# -- what "inert" means, per kind of output -----------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_terminal_safe(output: str, *, annotations_for: str = "") -> None:
    """No escape sequence or control character, and no line that GitHub would run as a workflow
    command, except our own annotations (`::error file=<annotations_for>,...`)."""
    assert not _CONTROL.search(output), repr(_CONTROL.search(output))
    assert "##[" not in output
    for line in output.splitlines():
        if line.lstrip().startswith("::"):
            assert annotations_for and re.match(rf"::(error|warning|notice) file={re.escape(annotations_for)},", line), line


class Markup(HTMLParser):
    """The elements, attributes and text outside `<code>` of an HTML page, as a browser parses them."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []
        self.prose: list[str] = []
        self.code: list[str] = []
        self._in_code = 0
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag == "code":
            self._in_code += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._in_code:
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        (self.code if self._in_code else self.prose).append(data)


def rendered_markdown(text: str) -> Markup:
    """`text` as a CommonMark renderer with GFM tables and strikethrough turns it into HTML."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py comes with rich")
    return Markup(markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text))


def assert_inert_markdown(text: str) -> Markup:
    """No element made from model text, and nothing GitHub would autolink or notify outside code
    (GitHub's autolinks, mentions and issue references match rendered text, except in code)."""
    assert not _CONTROL.search(text)
    page = rendered_markdown(text)
    assert not page.tags & LIVE_ELEMENTS, page.tags & LIVE_ELEMENTS
    prose = " ".join(page.prose)
    assert not re.search(r"://|www\.|@|#\d", prose, re.IGNORECASE), prose
    return page


def json_strings_of(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [key, *json_strings_of(value)]]
    if isinstance(node, list):
        return [s for value in node for s in json_strings_of(value)]
    return [node] if isinstance(node, str) else []


# -- the sanitizer: the base every context shares ------------------------------------------------------------


def test_clean_removes_a_csi_colour_sequence_whole() -> None:
    assert clean("a \x1b[1;31mred\x1b[0m b") == "a red b"


def test_clean_removes_an_osc_52_clipboard_write_up_to_its_bel() -> None:
    assert clean("x\x1b]52;c;cHduZWQ=\x07y") == "xy"


def test_clean_removes_an_osc_8_hyperlink_ended_by_string_terminators() -> None:
    assert clean("\x1b]8;;https://attacker.example\x1b\\click\x1b]8;;\x1b\\") == "click"


def test_clean_removes_c1_sequences_and_device_control_strings() -> None:
    assert clean("a\x9b2Jb\x90q#0;2\x9cc\x1bcd") == "abcd"


def test_an_unterminated_osc_loses_only_its_introducer_and_keeps_the_rest_as_text() -> None:
    assert clean("a\x1b]52;c;QUFB") == "a52;c;QUFB"


def test_clean_removes_control_characters_but_keeps_tabs_and_newlines() -> None:
    assert clean("a\x00b\x07c\x7fd\x84e\tf\ng\x08") == "abcde\tf\ng"


def test_clean_turns_every_kind_of_line_break_into_a_newline() -> None:
    assert clean("a\r\nb\rc\u2028d\u2029e\x0bf\x0cg") == "a\nb\nc\nd\ne\nf\ng"


def test_clean_makes_bidi_controls_visible() -> None:
    assert clean("access = 'user\u202e \u2066// admin\u2069\u2066'") == "access = 'user<U+202E> <U+2066>// admin<U+2069><U+2066>'"


def test_clean_replaces_lone_surrogates_and_characters_xml_forbids() -> None:
    assert clean("a\ud800b\uffffc") == "a\ufffdb\ufffdc"


def test_clean_leaves_ordinary_text_and_emoji_sequences_alone() -> None:
    text = "Ünïcödé 漢字 👩‍💻 tabs\tand lines\n`code` <tag> 50% [x](y)"
    assert clean(text) == text


def test_one_line_collapses_line_breaks_and_whitespace_runs_to_one_space() -> None:
    assert one_line("  a\n\n b\u2028c\t d  ") == "a b c d"


# -- terminals and CI logs ----------------------------------------------------------------------------------


def test_terminal_text_keeps_a_field_on_one_line_without_escape_sequences() -> None:
    assert terminal_text(HOSTILE_TITLE) == SHOWN_TITLE


def test_a_field_that_would_start_a_line_with_a_workflow_command_is_escaped() -> None:
    assert terminal_text("  ::error file=x::pwned") == "\\::error file=x::pwned"


def test_legacy_workflow_commands_are_broken_anywhere_in_a_field() -> None:
    assert terminal_text("a ##[error]b ##[set-output name=x]y") == "a ##\\[error]b ##\\[set-output name=x]y"


def test_terminal_block_keeps_the_lines_and_escapes_each_workflow_command() -> None:
    assert terminal_block("answer\n::error file=x::pwned\n  ::warning::w\x1b[2J") == (
        "answer\n\\::error file=x::pwned\n  \\::warning::w")


def test_workflow_properties_escape_percent_line_breaks_colons_and_commas() -> None:
    assert workflow_property("50%,a:b\r\nc") == "50%25%2Ca%3Ab%0Ac"


def test_workflow_data_keeps_colons_but_escapes_line_breaks_and_legacy_commands() -> None:
    assert workflow_data("a::b\n##[error]c\x1b[31m") == "a::b%0A##\\[error]c"


# -- Markdown ------------------------------------------------------------------------------------------------


def test_markdown_text_escapes_emphasis_code_links_tables_strikethrough_and_math() -> None:
    assert markdown_text("*a* _b_ `c` [d] |e| ~f~ $g$ \\h") == "\\*a\\* \\_b\\_ \\`c\\` \\[d\\] \\|e\\| \\~f\\~ \\$g\\$ \\\\h"


def test_markdown_text_turns_raw_html_into_entities() -> None:
    assert markdown_text("<script>alert(1)</script> & <b>") == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;"


def test_markdown_text_shows_urls_mentions_and_issue_references_as_code() -> None:
    assert markdown_text("see https://a.example/x www.b.example @team mail@c.example #12") == (
        "see `https://a.example/x` `www.b.example` `@team` `mail@c.example` `#12`")


def test_markdown_text_shows_an_image_with_its_url_as_code() -> None:
    assert markdown_text("![x](https://attacker.example/p.png)") == "`![x](https://attacker.example/p.png)`"


@pytest.mark.parametrize(("text", "escaped"), [("# h", "\\# h"), ("- item", "\\- item"), ("+ x", "\\+ x"),
                                               ("> q", "&gt; q"), ("1. one", "1\\. one"), ("2) two", "2\\) two")])
def test_markdown_text_cannot_start_a_heading_list_or_quote(text: str, escaped: str) -> None:
    assert markdown_text(text) == escaped


def test_markdown_text_is_one_line() -> None:
    assert markdown_text("a\n\n| b |\n---") == "a \\| b \\| ---"


def test_markdown_code_keeps_angle_brackets_and_ampersands_literal() -> None:
    assert markdown_code("<b>&amp;</b>") == "`<b>&amp;</b>`"


def test_markdown_code_uses_a_fence_longer_than_any_backtick_run_inside() -> None:
    assert markdown_code("a `b` ``c`` d") == "```a `b` ``c`` d```"


def test_markdown_code_pads_a_leading_or_trailing_backtick() -> None:
    assert markdown_code("`x`") == "`` `x` ``"


def test_markdown_code_escapes_pipes_only_inside_tables() -> None:
    assert (markdown_code("a|b"), markdown_code("a|b", in_table=False)) == ("`a\\|b`", "`a|b`")


def test_markdown_code_renders_back_to_exactly_the_text() -> None:
    page = rendered_markdown(f"| code |\n|---|\n| {markdown_code(QUOTE)} |\n")
    assert page.code == [one_line(QUOTE)]


def test_markdown_text_renders_back_to_the_characters_typed() -> None:
    text = "*a* <b>x</b> [y](z) ~s~ 1 & 2 a|b `c` $d$"
    page = rendered_markdown(markdown_text(text))
    assert ("".join(page.prose).strip(), page.tags) == (text, {"p"})


# -- HTML, XML, JSON, SARIF ------------------------------------------------------------------------------------


def test_html_text_escapes_markup_and_both_quotes_after_cleaning() -> None:
    assert html_text("<a href='x'>\"\x1b[31m&") == "&lt;a href=&#x27;x&#x27;&gt;&quot;&amp;"


def test_xml_text_leaves_only_characters_xml_allows() -> None:
    element = ET.Element("a", {"b": xml_text("\x00\x1b\ud800\ufffe")})
    element.text = xml_text(HOSTILE_MESSAGE)
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode").encode())
    assert (parsed.get("b"), parsed.text) == ("\ufffd\ufffd", clean(HOSTILE_MESSAGE))


def test_sarif_text_escapes_the_brackets_of_embedded_links() -> None:
    assert sarif_text("[click](https://x) \\[y]") == "\\[click\\](https://x) \\\\\\[y\\]"


def test_json_strings_cleans_every_string_and_key_and_keeps_other_values() -> None:
    assert json_strings({"a\x1b[1m": ["b\x07", ("c\x00",), 1, None, True]}) == {"a": ["b", ["c"], 1, None, True]}


# -- the fake model ------------------------------------------------------------------------------------------


def test_the_fake_model_writes_hostile_text_for_a_marked_line_but_quotes_the_line_itself() -> None:
    boundary = "cb-0123456789abcdef01234567"
    text = (f"Fence boundary: {boundary}\n{file_fence(boundary, 'app/hostile.py', 1, 2, 2)}\n"
            f"{number_lines(HOSTILE_FILE['app/hostile.py'].splitlines(), 1)}{end_fence(boundary)}\n")
    [finding] = review(text)
    assert (finding["title"], finding["message"], finding["category"]) == (HOSTILE_TITLE, HOSTILE_MESSAGE, HOSTILE_CATEGORY)
    assert (finding["line"], finding["quote"], HOSTILE_MARKER in QUOTE) == (2, QUOTE, True)


# -- every renderer with the hostile finding -------------------------------------------------------------------


def test_the_terminal_summary_shows_hostile_model_text_on_inert_lines() -> None:
    text = terminal.render(HOSTILE_REPORT, fail_on="high")
    assert_terminal_safe(text)
    assert f"app/hostile.py:2: high: {SHOWN_TITLE}" in text and f"FAILED app/x.py: error: {SHOWN_TITLE}" in text


def test_a_file_named_like_a_workflow_command_cannot_start_a_terminal_line() -> None:
    named = report_of(hostile(file="::error file=x::y.py"))
    assert_terminal_safe(terminal.render(named, fail_on="high"))


def test_github_annotations_are_one_command_per_finding_with_the_cleaned_text() -> None:
    lines = github.render(HOSTILE_REPORT).splitlines()
    assert_terminal_safe("\n".join(lines), annotations_for="app/hostile.py")
    assert lines[0].startswith("::error file=app/hostile.py,line=2,endLine=2,title=Model text with escapes%0A%3A%3Aerror")
    assert [line for line in lines if line.startswith("::")] == lines[:1]


def test_the_step_summary_renders_hostile_model_text_as_text() -> None:
    page = assert_inert_markdown(github.render_step_summary(HOSTILE_REPORT))
    assert "![x](https://attacker.example/p.png)" in page.code


def test_the_markdown_report_renders_hostile_model_text_as_text() -> None:
    page = assert_inert_markdown(markdown.render(HOSTILE_REPORT))
    assert SHOWN_TITLE in " ".join(page.prose) and "<script>alert(1)</script>" in " ".join(page.prose)


def test_the_markdown_report_shows_a_quote_with_tags_and_backticks_literally() -> None:
    page = rendered_markdown(markdown.render(HOSTILE_REPORT))
    assert one_line(QUOTE) in page.code


def test_the_markdown_report_shows_a_file_name_with_backticks_as_one_code_span() -> None:
    page = rendered_markdown(markdown.render(report_of(hostile(file="app/`x`<b>.py"))))
    assert "app/`x`<b>.py" in page.code and "b" not in page.tags


def test_the_html_report_keeps_hostile_model_text_as_escaped_text() -> None:
    page = html.render(HOSTILE_REPORT)
    markup = Markup(page)
    assert not _CONTROL.search(page) and not markup.tags & {"img", "script", "b", "iframe"}
    assert not [name for name, _ in markup.attributes if name.startswith("on")]
    assert all(value.startswith("#") for name, value in markup.attributes if name in ("href", "src"))
    assert "<script>alert(1)</script>" in "".join(markup.prose) and "<U+202E>evil<U+202C>" in "".join(markup.prose)


def test_junit_stays_well_formed_xml_without_escape_sequences() -> None:
    document = junit.render(HOSTILE_REPORT)
    root = ET.fromstring(document.encode())
    texts = [value for element in root.iter() for value in [element.text or "", *element.attrib.values()]]
    assert not any(_CONTROL.search(text) for text in texts)
    assert any(clean(HOSTILE_TITLE) in text for text in texts)


def test_sarif_with_hostile_model_text_validates_against_the_official_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency: pip install -e '.[test]'")
    document = json.loads(sarif.render(HOSTILE_REPORT))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(document)


def test_sarif_messages_carry_no_embedded_link() -> None:
    document = json.loads(sarif.render(HOSTILE_REPORT))
    message = document["runs"][0]["results"][0]["message"]["text"]
    assert "\\[click\\](https://attacker.example/login)" in message and "[click]" not in message.replace("\\[click\\]", "")


@pytest.mark.parametrize("module", [json_report, sarif, gitlab, rdjson], ids=["json", "sarif", "gitlab", "rdjson"])
def test_json_formats_hold_no_control_character_or_escape_sequence(module: Any) -> None:
    strings = json_strings_of(json.loads(module.render(HOSTILE_REPORT)))
    assert not [text for text in strings if _CONTROL.search(text)]
    assert any("Model text with escapes" in text for text in strings)


def test_rdjson_messages_are_inert_markdown_for_pull_request_comments() -> None:
    [diagnostic] = json.loads(rdjson.render(HOSTILE_REPORT))["diagnostics"]
    assert_inert_markdown(diagnostic["message"])


def test_a_failed_chunks_progress_line_is_one_inert_line() -> None:
    out = io.StringIO()
    reporter = ProgressReporter(out, {}, live=False)
    task = Task("analyze:app/\x1b]52;c;eA\x07x.py", actions=None)
    reporter.initialize({task.name: task}, [task.name])
    reporter.execute_task(task)
    task.values = {"status": "error", "error": f"API said: {HOSTILE_TITLE}", "cost_usd": 0.0, "duration_ms": 0}
    reporter.add_success(task)
    assert_terminal_safe(out.getvalue())
    assert out.getvalue() == f"[1/1] FAILED app/x.py  API said: {SHOWN_TITLE}\n"


def test_a_chunk_label_from_a_hostile_file_name_is_terminal_safe() -> None:
    assert chunk_label("analyze:\u202e::error::x\x1b[2J.py") == "<U+202E>::error::x.py"


# -- end to end: the real CLI, the fake API, every format, the hook, analyze and ask -------------------------------


@needs_claude
@pytest.mark.e2e
def test_hostile_model_output_stays_inert_in_every_format_and_every_terminal_output(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer, tmp_path: Path) -> None:
    root = make_repo(HOSTILE_FILE, config=f"formats = {json.dumps(list(FORMATS))}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    summary = tmp_path / "step-summary.md"
    env = {**os.environ, "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}

    hook = run_cli(["hook", "run"], cwd=root, env=env)
    analyze = run_cli(["analyze"], cwd=root, env=env)
    report = run_cli(["report", "--fail-on", "high"], cwd=root, env=env)
    printed = run_cli(["report", "--format", "github"], cwd=root, env=env)
    ask = run_cli(["ask", "app/hostile.py", "What is wrong here?"], cwd=root, env=env)

    runs = (hook, analyze, report, printed, ask)
    assert [run.returncode for run in runs] == [1, 0, 1, 0, 0], [(run.args[3:], run.stdout, run.stderr) for run in runs]
    assert f"app/hostile.py:2: high: {SHOWN_TITLE}" in hook.stdout  # the hostile finding really came through
    assert "\\::error file=x::pwned" in ask.stdout.splitlines()
    for run in runs:
        assert_terminal_safe(run.stdout + run.stderr, annotations_for="app/hostile.py")
    state = root / ".claudebuild"
    assert_terminal_safe((state / "report.github.txt").read_text(), annotations_for="app/hostile.py")
    assert "<script>alert(1)</script>" in " ".join(assert_inert_markdown((state / "report.md").read_text()).prose)
    assert_inert_markdown(summary.read_text())
    page = Markup((state / "report.html").read_text())
    assert not page.tags & {"img", "script", "b", "iframe"} and SHOWN_TITLE in " ".join(" ".join(page.prose).split())
    ET.fromstring((state / "report.junit.xml").read_bytes())
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency: pip install -e '.[test]'")
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(json.loads((state / "report.sarif").read_text()))
    for name in ("report.json", "report.sarif", "report.gitlab.json", "report.rdjson"):
        strings = json_strings_of(json.loads((state / name).read_text()))
        assert not [text for text in strings if _CONTROL.search(text)], name
        assert any("Model text with escapes" in text for text in strings), name
    for name in ("report.md", "report.html", "report.junit.xml", "report.github.txt"):
        assert not _CONTROL.search((state / name).read_text()), name
