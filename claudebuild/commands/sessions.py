"""`claudebuild sessions`: every chunk's stored Claude session, its age, cost and whether it can still be resumed.

A chunk's session is only useful to `claudebuild ask` while the CLI still has
its transcript, and Claude Code deletes transcripts older than
`cleanupPeriodDays` (30 by default) at start-up. So the table checks on disk,
the way the CLI finds them: `<config dir>/projects/<mangled cwd>/<id>.jsonl`.
The helpers are pure so they can be tested without the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from claudebuild.claude.credentials import session_config_dir, user_config_dir
from claudebuild.config import Config
from claudebuild.repo.state_dir import ensure_own_state
from claudebuild.engine.store import read_task_values, values_to_result
from claudebuild.model import ANALYZE_PREFIX

MAX_PROJECT_NAME = 200
"""The CLI's limit on a mangled cwd; longer names are cut and get a hash suffix."""


def claude_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the CLI keeps its state: `CLAUDE_CONFIG_DIR`, else `~/.claude` (NFC, as the CLI does)."""
    return user_config_dir(os.environ if env is None else env)


def _java_string_hash(text: str) -> int:
    """The CLI's 32-bit `(h << 5) - h + code` hash over UTF-16 code units, as a signed int."""
    value = 0
    data = text.encode("utf-16-le")
    for index in range(0, len(data), 2):
        value = (value * 31 + int.from_bytes(data[index:index + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


def project_dir_name(cwd: str) -> str:
    """The directory name the CLI files a cwd's sessions under: every non-alphanumeric
    character becomes '-'; names over 200 characters are cut and get a hash suffix."""
    # JavaScript replaces UTF-16 code units: a character outside the BMP becomes "--"
    mangled = "".join(char if char.isascii() and char.isalnum() else "-" * (1 + (ord(char) > 0xFFFF)) for char in cwd)
    if len(mangled) <= MAX_PROJECT_NAME:
        return mangled
    return f"{mangled[:MAX_PROJECT_NAME]}-{_base36(abs(_java_string_hash(cwd)))}"


def transcript_path(config_dir: Path, cwd: str, session_id: str) -> Path:
    return config_dir / "projects" / project_dir_name(cwd) / f"{session_id}.jsonl"


def humanize_age(seconds: float) -> str:
    """Coarse and short, for a table column: '40s', '12m', '3h', '5d', '7w'; future times are 'now'."""
    if seconds < 60:
        return f"{int(max(seconds, 0))}s"
    for unit, size, threshold in (("w", 7 * 86400, 14 * 86400), ("d", 86400, 86400), ("h", 3600, 3600)):
        if seconds >= threshold:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds // 60)}m"


def age_seconds(finished_at: str, now: datetime) -> float | None:
    """Seconds since an ISO timestamp, or None when there is none (a result from an old version)."""
    try:
        moment = datetime.fromisoformat(finished_at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (now - moment).total_seconds()


@dataclass(frozen=True)
class SessionRow:
    """One chunk's stored session as the table and `--json` show it."""

    chunk: str
    session_id: str
    cwd: str
    finished_at: str
    age_seconds: float | None
    cost_usd: float
    status: str
    transcript: str
    transcript_present: bool


def session_rows(stored: Mapping[str, Mapping[str, Any]], config_dir: Path, now: datetime) -> list[SessionRow]:
    """Rows for every stored result that has a session id, sorted by chunk id."""
    rows: list[SessionRow] = []
    for name, values in stored.items():
        result = values_to_result(dict(values))
        if not result.session_id:
            continue
        path = transcript_path(config_dir, result.cwd, result.session_id) if result.cwd else None
        rows.append(SessionRow(
            chunk=result.chunk or name.removeprefix(ANALYZE_PREFIX),
            session_id=result.session_id,
            cwd=result.cwd,
            finished_at=result.finished_at,
            age_seconds=age_seconds(result.finished_at, now),
            cost_usd=result.cost_usd,
            status=result.status,
            transcript=str(path) if path else "",
            transcript_present=bool(path and path.is_file()),
        ))
    return sorted(rows, key=lambda row: row.chunk)


def render_table(rows: Sequence[SessionRow]) -> str:
    """Aligned columns and a totals line; the transcript column says whether `ask` can resume it."""
    header = ("chunk", "session", "age", "cost", "status", "transcript")
    body = [(row.chunk, row.session_id, "?" if row.age_seconds is None else humanize_age(row.age_seconds),
             f"${row.cost_usd:.4f}", row.status, "yes" if row.transcript_present else "no") for row in rows]
    widths = [max(len(line[column]) for line in (header, *body)) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in (header, *body)]
    lines.append(totals_line(rows))
    return "\n".join(lines)


def totals_line(rows: Sequence[SessionRow]) -> str:
    present = sum(row.transcript_present for row in rows)
    cost = sum(row.cost_usd for row in rows)
    missing = len(rows) - present
    hint = f"; {missing} can no longer be resumed (`claudebuild ask --reanalyze` analyzes again)" if missing else ""
    return f"{len(rows)} sessions, {present} with a transcript, ${cost:.4f} spent on them{hint}"


def to_json(rows: Sequence[SessionRow]) -> str:
    totals = {"sessions": len(rows), "transcripts_present": sum(row.transcript_present for row in rows),
              "cost_usd": round(sum(row.cost_usd for row in rows), 6)}
    return orjson.dumps({"sessions": [asdict(row) for row in rows], "totals": totals},
                        option=orjson.OPT_INDENT_2).decode()


def run_sessions(config: Config, out: TextIO | None = None, *, as_json: bool = False) -> int:
    """Print the table (or JSON) of stored sessions; reads the DB only, so it never waits for a running build."""
    ensure_own_state(config.root, config.state_dir)
    rows = session_rows(read_task_values(config.db_path), session_config_dir(config.state_path), datetime.now(UTC))
    if as_json:
        print(to_json(rows), file=out)
    elif not rows:
        print("claudebuild: no stored sessions yet: run `claudebuild analyze` first", file=out)
    else:
        print(render_table(rows), file=out)
    return 0
