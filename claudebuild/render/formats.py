"""Every report format by name: the file `doit report` writes and the renderer behind it."""

from __future__ import annotations

from collections.abc import Callable

from claudebuild.render import github, gitlab, html, json_report, junit, markdown, rdjson, sarif
from claudebuild.pipeline.report import Report

Renderer = Callable[[Report], str]

FORMATS: dict[str, tuple[str, Renderer]] = {
    "json": ("report.json", json_report.render),
    "md": ("report.md", markdown.render),
    "sarif": ("report.sarif", sarif.render),
    "html": ("report.html", html.render),
    "junit": ("report.junit.xml", junit.render),
    "gitlab": ("report.gitlab.json", gitlab.render),
    "rdjson": ("report.rdjson", rdjson.render),
    "github": ("report.github.txt", github.render),
}
