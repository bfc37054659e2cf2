"""Chunk results in doit's database, durable the moment each chunk finishes.

doit keeps its DB in memory and writes it when the run ends, so kill -9 or a CI
timeout would lose every result of the run. `DurableSqliteDB` stores doit's
sqlite3 table with one change: a task's row is committed as soon as doit has
saved the task (the `deps:` key is the last one `save_success` writes). It is
registered as the doit backend plugin `claudebuild` (see pyproject.toml), so
plain `doit` uses it too. The readers and writers below (the report, the hook,
`merge`, `ask`) open the same file separately and query it by task name.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson

from claudebuild.errors import state_error
from claudebuild.hashing import digest_json
from claudebuild.model import ANALYZE_PREFIX, ChunkResult, SentFile

BUSY_TIMEOUT_S = 30.0
CREATE_TABLE = "create table if not exists doit (task_id text not null primary key, task_data json)"
QUERY_BATCH = 500  # names per `in (...)` query, well under sqlite's variable limit


class DurableSqliteDB:
    """A doit DB backend over doit's sqlite3 table (`doit(task_id, task_data json)`, so doit's own
    `sqlite3` backend reads the same file), committing each task's row when doit saves it.

    Our own class rather than a subclass of doit's `SqliteDB`: that one keeps its state in private
    attributes, and committing per task would mean reaching into them. doit calls `get`, `set`,
    `in_`, `remove`, `remove_all` and `dump`, and reads `name` and `desc`."""

    desc = "sqlite3, committed per task (claudebuild)"

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None) -> None:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.codec = codec
        self._write_lock = threading.Lock()
        self._tasks: dict[str, dict[str, Any]] = {}  # task_id -> its data as doit last read or set it
        self._unsaved: set[str] = set()
        try:
            self._conn = sqlite3.connect(name, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            self._conn.execute(f"pragma busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._conn.execute("pragma journal_mode = wal")
            self._conn.execute("pragma synchronous = normal")
            self._conn.execute(CREATE_TABLE)
            self._conn.commit()
        except sqlite3.DatabaseError as error:
            raise state_error(name, error) from error

    def _data(self, task_id: str) -> dict[str, Any]:
        if task_id not in self._tasks:
            with self._write_lock:
                row = self._conn.execute("select task_data from doit where task_id = ?", (task_id,)).fetchone()
            decoded = self.codec.decode(row[0]) if row and row[0] else {}
            self._tasks[task_id] = decoded if isinstance(decoded, dict) else {}
        return self._tasks[task_id]

    def get(self, task_id: str, dependency: str) -> Any:
        return self._data(task_id).get(dependency)

    def set(self, task_id: str, dependency: str, value: Any) -> None:
        if dependency == "result:" and isinstance(value, dict):
            value = digest_json(value)  # the values are stored once already, under _values_:
        self._tasks.setdefault(task_id, {})[dependency] = value  # as doit's: a save starts from nothing
        self._unsaved.add(task_id)
        if dependency == "deps:":  # the last key `save_success` writes
            self._write(task_id)

    def in_(self, task_id: str) -> bool:
        if task_id in self._tasks:
            return True
        with self._write_lock:
            return self._conn.execute("select 1 from doit where task_id = ?", (task_id,)).fetchone() is not None

    def _write(self, task_id: str) -> None:
        """Commit the task's row, unless it holds exactly this already: a no-op run (doit saves every group
        task it runs) then leaves the file untouched, which the whole-run fast path checks (run/noop_stamp.py)."""
        encoded = self.codec.encode(self._tasks[task_id])
        with self._write_lock:
            row = self._conn.execute("select task_data from doit where task_id = ?", (task_id,)).fetchone()
            if row is None or row[0] != encoded:
                self._conn.execute("insert or replace into doit values (?,?)", (task_id, encoded))
                self._conn.commit()
            self._unsaved.discard(task_id)

    def dump(self) -> None:
        for task_id in list(self._unsaved):
            self._write(task_id)
        with self._write_lock:
            self._conn.close()

    def remove(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)
        self._unsaved.discard(task_id)
        with self._write_lock:
            self._conn.execute("delete from doit where task_id = ?", (task_id,))
            self._conn.commit()

    def remove_all(self) -> None:
        self._tasks.clear()
        self._unsaved.clear()
        with self._write_lock:
            self._conn.execute("delete from doit")
            self._conn.commit()


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S)
    conn.execute(f"pragma busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return conn


def check_database(db_path: Path) -> None:
    """Fail with a one-line cause before doit opens the DB (doit itself would print a traceback).

    A DB file whose table does not exist yet is fine (a first run interrupted early)."""
    if not db_path.exists():
        return
    try:
        conn = _connect(db_path)
        try:
            conn.execute("select name from sqlite_master limit 1").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise state_error(db_path, error) from error


def read_task_value(db_path: Path, task_name: str) -> dict[str, Any] | None:
    """One task's stored values (None: nothing usable stored), read by its name alone."""
    return read_task_values(db_path, [task_name]).get(task_name)


def read_task_values(db_path: Path, task_names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """The stored values of analyze tasks (all of them, or the named ones: only those rows are read)."""
    if not db_path.exists():
        return {}
    values: dict[str, dict[str, Any]] = {}
    try:
        conn = _connect(db_path)
        try:
            rows = _analyze_rows(conn) if task_names is None else _named_rows(conn, task_names)
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise state_error(db_path, error) from error
    for task_id, data in rows:
        try:
            task_data = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue  # a row doit itself could not use either; the chunk simply reruns
        stored = task_data.get("_values_:") if isinstance(task_data, dict) else None
        if isinstance(stored, dict) and stored:
            values[task_id] = stored
    return values


def drop_stale_tasks(db_path: Path, current: Iterable[str], exists: Callable[[str], bool]) -> list[str]:
    """Delete the results of chunks that are gone for good: not planned now, and not one of
    the files they were made from is still on disk (`exists`, by repo-relative path).

    One rule, whatever this run found: a chunk that is only left out now (an ignore
    pattern, a config change, a run that found no files) keeps its result and session,
    so undoing the change costs nothing; deleting its files deletes its result.
    """
    if not db_path.exists():
        return []
    keep = set(current)
    try:
        conn = _connect(db_path)
        try:
            rows = _analyze_rows(conn, _families(keep))
            stale = [name for name, data in rows if name not in keep and not _made_from_existing(data, exists)]
            if stale:
                conn.executemany("delete from doit where task_id = ?", [(name,) for name in stale])
                conn.commit()
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise state_error(db_path, error) from error
    return stale


def _families(task_names: Iterable[str]) -> tuple[str, ...]:
    """The task-name prefixes to read: `analyze:` always, and each named check's (`security:`)."""
    return tuple(sorted({ANALYZE_PREFIX} | {name.partition(":")[0] + ":" for name in task_names if ":" in name}))


def _analyze_rows(conn: sqlite3.Connection, prefixes: tuple[str, ...] = (ANALYZE_PREFIX,)) -> list[tuple[Any, Any]]:
    """Every analyze task's (task_id, task_data); none while the `doit` table does not exist yet.

    sqlite creates the file on connect, before doit creates its table, so a run interrupted
    that early, or a reader racing the first run, finds a database without the table: an
    empty cache, not a corrupt one. A file that is not a database fails on `sqlite_master`."""
    if not _has_table(conn):
        return []
    rows: list[tuple[Any, Any]] = []
    for prefix in prefixes:  # `like` treats `_` as a wildcard: the prefix test itself is exact
        found = conn.execute("select task_id, task_data from doit where task_id like ? || '%'", (prefix,)).fetchall()
        rows += [(task_id, data) for task_id, data in found if str(task_id).startswith(prefix)]
    return rows


def _named_rows(conn: sqlite3.Connection, task_names: Iterable[str]) -> list[tuple[Any, Any]]:
    """The (task_id, task_data) of the named chunk tasks (`analyze:…`, `<check>:…`) that exist, looked up
    by primary key: the hook or `ask` needing one chunk does not read a large repository's whole table."""
    if not _has_table(conn):
        return []
    names = sorted({name for name in task_names if ":" in name})
    rows: list[tuple[Any, Any]] = []
    for start in range(0, len(names), QUERY_BATCH):
        batch = names[start:start + QUERY_BATCH]
        marks = ",".join("?" * len(batch))
        rows += conn.execute(f"select task_id, task_data from doit where task_id in ({marks})", batch).fetchall()
    return rows


def _has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("select 1 from sqlite_master where type = 'table' and name = 'doit'").fetchone() is not None


def _made_from_existing(data: Any, exists: Callable[[str], bool]) -> bool:
    try:
        stored = orjson.loads(data).get("_values_:") or {}
        paths = [item["path"] for item in stored.get("sent") or ()]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return False  # unreadable: doit could not use it either
    return any(isinstance(path, str) and exists(path) for path in paths)


_RESULT_FIELDS = {f.name for f in fields(ChunkResult)}


def result_to_values(result: ChunkResult) -> dict[str, Any]:
    """A JSON round trip, so doit can always encode what it stores."""
    values: dict[str, Any] = orjson.loads(orjson.dumps(asdict(result)))
    return values


_SENT_FIELDS = frozenset(f.name for f in fields(SentFile))


def values_to_result(values: dict[str, Any]) -> ChunkResult:
    """A stored result as a `ChunkResult`. A report reads every chunk's, so a complete record (every
    field present, as `result_to_values` writes them) is filled in directly rather than through the
    frozen dataclasses' field-by-field `__init__`; anything else goes through `__init__`."""
    known = {key: values[key] for key in _RESULT_FIELDS.intersection(values)}
    known["raw_findings"] = tuple(item for item in known.get("raw_findings") or () if isinstance(item, dict))
    known["sent"] = tuple(_sent_file(item) for item in known.get("sent") or () if isinstance(item, dict))
    if len(known) != len(_RESULT_FIELDS):
        return ChunkResult(**known)
    result = object.__new__(ChunkResult)
    result.__dict__.update(known)
    return result


def _sent_file(item: dict[str, Any]) -> SentFile:
    if item.keys() != _SENT_FIELDS:
        return SentFile(**item)
    sent = object.__new__(SentFile)
    sent.__dict__.update(item)
    return sent


def save_values(db_path: Path, task_name: str, values: dict[str, Any]) -> None:
    """Store a result outside a doit run (the pre-commit hook), keeping doit's other keys.

    doit will still check the task's files on its next run; the stored result
    is then reused without a call if it matches the files' content."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(db_path)
    try:
        conn.execute(CREATE_TABLE)
        row = conn.execute("select task_data from doit where task_id = ?", (task_name,)).fetchone()
        data = orjson.loads(row[0]) if row and row[0] else {}
        data["_values_:"] = values
        conn.execute("insert or replace into doit values (?, ?)", (task_name, orjson.dumps(data).decode()))
        conn.commit()
    finally:
        conn.close()
