"""The HTML report's stylesheet, inlined into every page.

Kept as a Python string rather than a data file so it ships inside the package with
no packaging configuration. The severity filter is pure CSS (`:has()` on checkboxes):
with every box ticked, the default, all findings show, and nothing needs a script.
"""

from claudebuild.model import SEVERITIES

_FILTER = "\n".join(
    f"body:has(#show-{severity}:not(:checked)) .finding.sev-{severity} {{ display: none; }}" for severity in SEVERITIES
)

CSS = """
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --text: #1f2328; --muted: #5b636e; --border: #d9dde3; --track: #eceff3;
  --code-bg: #f3f4f6; --accent: #3454d1;
  --critical: #b42318; --high: #e0620d; --medium: #b88700; --low: #2f6fdf; --info: #6b7480;
  --cost: #7a5af8; --saved: #12a150; --file: #3454d1; --on-badge: #ffffff;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1115; --panel: #171a21; --text: #e6e8eb; --muted: #9aa3ad; --border: #2b313b; --track: #222731;
    --code-bg: #10131a; --accent: #8aa4ff;
    --critical: #f97066; --high: #fb8c3c; --medium: #fdd23a; --low: #6ea8ff; --info: #a0a8b3;
    --cost: #a48afb; --saved: #47cd89; --file: #8aa4ff; --on-badge: #14161b;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 32px 0 12px; }
.meta { color: var(--muted); margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-top: 20px; }
.card { background: var(--panel); border: 1px solid var(--border); border-radius: 10px; padding: 14px 16px; }
.card .big { font-size: 26px; font-weight: 650; display: block; line-height: 1.2; }
.card .sub { color: var(--muted); font-size: 13px; display: block; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 12px; margin-top: 12px; }
figure { margin: 0; background: var(--panel); border: 1px solid var(--border); border-radius: 10px; padding: 14px 16px; }
figure.wide { grid-column: 1 / -1; }
figure .note { color: var(--muted); font-size: 13px; margin: 10px 0 0; }
figcaption { font-weight: 600; margin-bottom: 8px; }
svg.chart { width: 100%; height: auto; display: block; overflow: visible; }
svg .label, svg .value, svg .empty { fill: var(--text); font-size: 12px; font-family: inherit; }
svg .value, svg .empty { fill: var(--muted); }
svg .track { fill: var(--track); }
svg a:hover .bar { opacity: 0.8; }
.bar.sev-critical { fill: var(--critical); } .bar.sev-high { fill: var(--high); } .bar.sev-medium { fill: var(--medium); }
.bar.sev-low { fill: var(--low); } .bar.sev-info { fill: var(--info); }
.bar.cost { fill: var(--cost); } .bar.saved { fill: var(--saved); } .bar.file { fill: var(--file); }
.badge {
  display: inline-block; min-width: 64px; text-align: center; padding: 1px 8px; border-radius: 999px;
  font-size: 12px; font-weight: 650; color: var(--on-badge); text-transform: uppercase; letter-spacing: 0.03em;
}
.badge.sev-critical { background: var(--critical); } .badge.sev-high { background: var(--high); }
.badge.sev-medium { background: var(--medium); color: #1f1600; } .badge.sev-low { background: var(--low); }
.badge.sev-info { background: var(--info); }
.badge[class*="mark-"] { min-width: 0; font-size: 11px; padding: 0 7px; text-transform: none; letter-spacing: 0; }
.badge.mark-new { background: var(--accent); }
.badge.mark-persisting, .badge.mark-baselined { background: var(--track); color: var(--muted); }
.badge.mark-unverified { background: transparent; color: var(--high); box-shadow: inset 0 0 0 1px var(--high); }
.pills { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
.pills .badge { min-width: 0; font-size: 11px; padding: 0 6px; }
.filter { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; margin: 0 0 12px; color: var(--muted); }
.filter label { display: inline-flex; align-items: center; gap: 6px; cursor: pointer; color: var(--text); }
details.file {
  background: var(--panel); border: 1px solid var(--border); border-radius: 10px; margin-bottom: 12px; overflow: hidden;
}
details.file > summary {
  cursor: pointer; padding: 10px 16px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap;
  border-bottom: 1px solid var(--border); font-weight: 600;
}
details.file:not([open]) > summary { border-bottom: 0; }
details.file > summary::-webkit-details-marker { display: none; }
details.file > summary::before { content: "▾"; color: var(--muted); width: 1em; }
details.file:not([open]) > summary::before { content: "▸"; }
.path { overflow-wrap: anywhere; }
.count { color: var(--muted); font-weight: 400; font-size: 13px; }
.finding { padding: 12px 16px 12px 16px; border-top: 1px solid var(--border); }
.finding:first-of-type { border-top: 0; }
.finding .head { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.finding .title { font-weight: 600; margin: 0; font-size: 15px; overflow-wrap: anywhere; }
.finding .where, .finding .category, .finding .id { color: var(--muted); font-size: 13px; }
.finding .category { overflow-wrap: anywhere; }
.finding .id { margin-left: auto; }
.finding .message { margin: 6px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.finding pre {
  margin: 8px 0 0; padding: 8px 12px; background: var(--code-bg); border: 1px solid var(--border);
  border-radius: 6px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere;
}
.finding.sev-critical { box-shadow: inset 4px 0 var(--critical); } .finding.sev-high { box-shadow: inset 4px 0 var(--high); }
.finding.sev-medium { box-shadow: inset 4px 0 var(--medium); } .finding.sev-low { box-shadow: inset 4px 0 var(--low); }
.finding.sev-info { box-shadow: inset 4px 0 var(--info); }
table {
  border-collapse: separate; border-spacing: 0; width: 100%; background: var(--panel);
  border: 1px solid var(--border); border-radius: 10px; overflow: hidden;
}
th, td { text-align: left; padding: 8px 12px; border-top: 1px solid var(--border); vertical-align: top; overflow-wrap: anywhere; }
th { border-top: 0; color: var(--muted); font-weight: 600; font-size: 13px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.empty-state {
  color: var(--muted); background: var(--panel); border: 1px dashed var(--border); border-radius: 10px; padding: 16px;
}
a { color: var(--accent); }
footer { color: var(--muted); font-size: 13px; padding: 32px 24px 40px; }
""" + _FILTER + "\n"
