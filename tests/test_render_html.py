"""The HTML report is self-contained, shows everything, and keeps model text as text, also in a real browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from claudebuild.pipeline.triage.fingerprint import fingerprint
from claudebuild.model import Finding
from claudebuild.render import html
from claudebuild.pipeline.report import FailedChunk, Report
from claudebuild.pipeline.triage.history import FindingRecord
from claudebuild.pipeline.triage.suppress import SuppressedFinding

XSS_TITLE = "<img src=x onerror=\"document.title='pwned'\">"
XSS_MESSAGE = "</script><script>document.title='pwned'</script>\n<svg onload=\"document.title='pwned'\"></svg>"
XSS_QUOTE = "'\"><iframe src=\"javascript:alert(1)\"></iframe>"
XSS_PATH = "app/\"><b onmouseover=x>.py"
CRITICAL_RGB = (0xB4, 0x23, 0x18)
"""The light theme's critical colour, which fills the critical bar of the severity chart."""


def make(file: str = "app/server.py", line: int = 3, severity: str = "high", **fields: Any) -> Finding:
    base = Finding(file=file, line=line, end_line=line, severity=severity, category="security/eval", title="Use of eval()",
                   message="eval runs arbitrary code", quote="eval(request.args['x'])", chunk="c1")
    return replace(base, **fields)


def sample_report(*findings: Finding) -> Report:
    findings = findings or (
        make(severity="critical", line=12, category="security/sql-injection", title="SQL built from request input",
             quote='cur.execute("SELECT * FROM t WHERE id=" + uid)'),
        make(line=40, title=XSS_TITLE, message=XSS_MESSAGE, quote=XSS_QUOTE),
        make(severity="medium", line=88, category="error-handling/bare-except", title="Bare except", quote="except:"),
        make(file="app/util.py", severity="low", line=5, category="style/naming", title="Ambiguous name", quote="l = 1"),
        make(file=XSS_PATH, severity="info", line=1, category=XSS_TITLE, title="Path test", quote="x = 1"),
    )
    return Report(
        findings=tuple(sorted(findings, key=lambda f: (f.file, f.line))),
        failed=(FailedChunk("lib/big.py#2", "timeout", f"no answer {XSS_TITLE}", ("lib/big.py",)),),
        pending=("tools/gen.py",), skipped_files={"binary": 4, "secret": 1}, rejected={"line-out-of-range": 2},
        chunks_total=12, files_total=30, fresh=3, cached=7, cost_this_run=0.0412, cost_saved=0.1377, cost_total=0.1789,
        input_tokens=123456, output_tokens=7890, run_id="run-1",
    )


# Pure checks on the markup


def test_model_text_is_escaped_everywhere_it_appears() -> None:
    page = html.render(sample_report())
    for raw in (XSS_TITLE, XSS_MESSAGE.split("\n")[0], XSS_QUOTE, XSS_PATH, "<svg onload"):
        assert raw not in page
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;" in page
    assert "app/&quot;&gt;&lt;b onmouseover=x&gt;.py" in page


class Markup(HTMLParser):
    """Every element and attribute of a page, as an HTML parser (and so a browser) sees them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def test_model_text_creates_no_element_and_no_event_handler() -> None:
    markup = Markup(html.render(sample_report()))
    assert not markup.tags & {"img", "iframe", "script", "b"}
    assert not [name for name, _ in markup.attributes if name.startswith("on")]


def test_the_page_has_no_script_and_loads_nothing_from_the_network() -> None:
    page = html.render(sample_report())
    assert "http://" not in page and "https://" not in page and "url(" not in page
    links = [value for name, value in Markup(page).attributes if name in ("src", "href", "srcset", "action", "xlink:href")]
    assert links and all(link.startswith("#") for link in links)


def test_a_content_security_policy_forbids_scripts_and_remote_resources() -> None:
    page = html.render(sample_report())
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline';" in page


def test_the_page_has_svg_charts_for_severity_cost_and_files() -> None:
    page = html.render(sample_report())
    charts = re.findall(r'<svg class="chart"[^>]*aria-label="([^"]*)"', page)
    assert charts == ["Findings by severity", "Cost this run and saved by the cache", "Files with the most findings"]
    assert 'class="bar sev-critical"' in page and 'class="bar saved"' in page


def test_the_files_chart_shows_at_most_ten_files() -> None:
    findings = [make(file=f"f{n:02}.py", line=1) for n in range(15)]
    page = html.render(sample_report(*findings))
    files_chart = page.split('aria-label="Files with the most findings"')[1].split("</svg>")[0]
    assert files_chart.count('class="bar file"') == 10


def test_the_header_summarises_findings_chunks_cache_and_cost() -> None:
    page = html.render(sample_report())
    for text in ("1 critical", "1 medium", "3 fresh · 7 cached · 1 failed · 1 pending", "70%", "$0.0412", "$0.1377"):
        assert text in page


def test_every_finding_is_listed_under_its_file_with_line_badge_and_fingerprint() -> None:
    finding = make(line=12, end_line=14)
    page = html.render(sample_report(finding))
    assert '<span class="path mono">app/server.py</span>' in page
    assert '<span class="badge sev-high">high</span>' in page and "lines 12–14" in page
    assert f'id="f-{fingerprint(finding)}"' in page and "eval(request.args[&#x27;x&#x27;])" in page


def test_the_severity_filter_starts_with_everything_shown() -> None:
    page = html.render(sample_report())
    boxes = re.findall(r'<input type="checkbox" id="show-(\w+)"( checked)?>', page)
    assert boxes == [(s, " checked") for s in ("critical", "high", "medium", "low", "info")]


def test_failed_chunks_skipped_files_and_rejected_findings_are_listed() -> None:
    page = html.render(sample_report())
    assert "Failed chunks" in page and "timeout" in page and "no answer &lt;img" in page
    assert "<td>binary</td><td class=\"num\">4</td>" in page
    assert "<td>line-out-of-range</td><td class=\"num\">2</td>" in page
    assert "tools/gen.py" in page


def test_an_empty_report_says_there_are_no_findings() -> None:
    assert "No findings." in html.render(replace(sample_report(), findings=()))


def test_the_same_report_renders_to_the_same_page() -> None:
    assert html.render(sample_report()) == html.render(sample_report())


def triaged_report() -> Report:
    """Compared with a previous report; one finding suppressed inline with hostile text, one fixed."""
    findings = (make(line=3, status="new", fingerprint="a" * 16), make(line=9, status="persisting", verified=False,
                                                                         fingerprint="b" * 16))
    suppressed = SuppressedFinding(make(line=20, title=XSS_TITLE), "inline", XSS_MESSAGE, "security/*")
    fixed = FindingRecord(XSS_PATH, 40, "security/exec", XSS_TITLE, "c" * 16, "critical")
    return replace(sample_report(*findings), compared=True, fixed=(fixed,), suppressed_findings=(suppressed,),
                   baselined=frozenset({"b" * 16}))


def test_findings_carry_status_baselined_and_unverified_badges() -> None:
    page = html.render(triaged_report())
    first = page.split(f'id="f-{"a" * 16}"')[1].split("</article>")[0]
    second = page.split(f'id="f-{"b" * 16}"')[1].split("</article>")[0]
    assert '<span class="badge mark-new"' in first and "unverified" not in first
    assert all(f'<span class="badge mark-{kind}"' in second for kind in ("persisting", "baselined", "unverified"))


def test_fixed_and_suppressed_findings_have_sections_of_their_own() -> None:
    page = html.render(triaged_report())
    assert "<h2>Fixed since the last report</h2>" in page and "<h2>Suppressed findings</h2>" in page
    assert "1 new" in page and "1 persisting · 1 fixed" in page


def test_triage_sections_keep_model_text_inert() -> None:
    markup = Markup(html.render(triaged_report()))
    assert not markup.tags & {"img", "iframe", "script", "b"}
    assert not [name for name, _ in markup.attributes if name.startswith("on")]


# A real browser


def find_chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian/Ubuntu: apt-get install -y chromium)"
)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """The report opened once in headless Chromium: its DOM after load and a 1280x2000 screenshot."""
    root = tmp_path_factory.mktemp("browser")
    page = root / "report.html"
    page.write_text(html.render(sample_report()), encoding="utf-8")
    shot = root / "report.png"
    dom = chromium(root / "profile-dom", "--dump-dom", page.as_uri()).stdout
    chromium(root / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    return dom, shot.read_bytes()


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def png_pixels(data: bytes, limit: int) -> list[bytes]:
    """The RGB pixels of the first `limit` rows of an 8-bit RGB/RGBA non-interlaced PNG (stdlib only)."""
    width, _, depth, colour = png_header(data)
    assert depth == 8 and colour in (2, 6)
    pixel = 3 if colour == 2 else 4
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        if data[offset + 4:offset + 8] == b"IDAT":
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * pixel
    rows: list[bytes] = []
    previous = bytes(stride)
    for index in range(limit):
        kind, line = raw[index * (stride + 1)], bytearray(raw[index * (stride + 1) + 1:(index + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - pixel] if i >= pixel else 0
            up, corner = previous[i], previous[i - pixel] if i >= pixel else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = rows[-1]
    return [row[i:i + 3] for row in rows for i in range(0, stride, pixel)]


@needs_chromium
def test_injected_markup_stays_text_in_the_browsers_dom(browser_run: tuple[str, bytes]) -> None:
    dom, _ = browser_run
    assert "&lt;img src=x onerror=\"document.title='pwned'\"&gt;" in dom
    assert not re.search(r"<(img|iframe|script)\b", dom) and "<b onmouseover" not in dom
    assert not re.search(r"<svg[^>]*onload", dom)


@needs_chromium
def test_no_injected_script_ran_in_the_browser(browser_run: tuple[str, bytes]) -> None:
    dom, _ = browser_run
    assert "<title>claudebuild report</title>" in dom and "pwned</title>" not in dom


@needs_chromium
def test_the_screenshot_is_a_png_of_the_window_size(browser_run: tuple[str, bytes]) -> None:
    _, png = browser_run
    assert png_header(png)[:2] == (1280, 2000)


@needs_chromium
def test_the_screenshot_shows_a_rendered_page_with_the_severity_colours(browser_run: tuple[str, bytes]) -> None:
    _, png = browser_run
    colours = set(png_pixels(png, 420))
    assert len(colours) > 50
    assert bytes(CRITICAL_RGB) in colours
