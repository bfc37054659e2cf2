"""Every report format by name: the file `doit report` writes (named in config) and the renderer behind it."""

from __future__ import annotations

from collections.abc import Callable

from claudebuild.config import REPORT_FILES
from claudebuild.render import github, gitlab, html, json_report, junit, markdown, rdjson, sarif
from claudebuild.pipeline.report import Report

Renderer = Callable[[Report], str]

_RENDERERS: dict[str, Renderer] = {
    "json": json_report.render, "md": markdown.render, "sarif": sarif.render, "html": html.render,
    "junit": junit.render, "gitlab": gitlab.render, "rdjson": rdjson.render, "github": github.render,
}
if set(_RENDERERS) != set(REPORT_FILES):  # one list of names (config.REPORT_FILES); a renderer for each
    raise ImportError(f"report formats and renderers differ: {sorted(set(_RENDERERS) ^ set(REPORT_FILES))}")

FORMATS: dict[str, tuple[str, Renderer]] = {name: (filename, _RENDERERS[name]) for name, filename in REPORT_FILES.items()}
"""Name -> (file name in the state dir, renderer), in `config.FORMATS` order."""
