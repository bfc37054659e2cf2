"""Results are durable per chunk, readable from outside doit, and garbage-collected."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from doit.dependency import Dependency, JSONCodec, SqliteDB
from doit.task import Task

from claudebuild.engine.checker import XxhashChecker
from claudebuild.errors import ClaudebuildError, state_error
from claudebuild.model import ChunkResult, SentFile
from claudebuild.engine.store import (DurableSqliteDB, check_database, drop_stale_tasks, read_task_value, read_task_values,
                                      result_to_values, save_values, values_to_result)


def save(dep: Dependency, name: str, values: dict, file_dep: list[str] | None = None) -> None:
    task = Task(name, None, file_dep=file_dep or [])
    task.values = values
    task.result = values
    dep.save_success(task)


def test_a_saved_task_is_on_disk_before_doit_closes_the_db(tmp_path: Path) -> None:
    db = tmp_path / "state" / "doit.sqlite"
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)
    save(dep, "analyze:a", {"status": "ok"})
    assert read_task_values(db) == {"analyze:a": {"status": "ok"}}  # dep.close() never called, as after kill -9


def test_dict_results_are_not_stored_twice(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)
    save(dep, "analyze:a", {"status": "ok", "raw_findings": [{"x": "y" * 1000}]})
    assert isinstance(dep._get("analyze:a", "result:"), str)


def test_removing_a_task_is_committed_at_once(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)
    save(dep, "analyze:a", {"status": "ok"})
    dep.remove("analyze:a")
    assert read_task_values(db) == {}


def test_doits_own_sqlite3_backend_reads_what_ours_stored(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)
    save(dep, "analyze:a", {"status": "ok"})
    dep.close()

    assert SqliteDB(str(db), JSONCodec()).get("analyze:a", "_values_:") == {"status": "ok"}


def test_a_result_stored_outside_doit_is_kept_when_doit_reads_the_task(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    save_values(db, "analyze:a", {"status": "ok"})
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)

    assert dep._get("analyze:a", "_values_:") == {"status": "ok"}


def test_named_reads_return_exactly_the_named_tasks_however_many(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    save_values(db, "analyze:c0", {"status": "ok", "n": 0})
    conn = sqlite3.connect(db)
    conn.executemany("insert or replace into doit values (?, ?)",
                     [(f"analyze:c{index}", json.dumps({"_values_:": {"status": "ok", "n": index}})) for index in range(1200)])
    conn.commit()
    conn.close()
    wanted = [f"analyze:c{index}" for index in range(0, 1200, 2)] + ["analyze:missing"]

    assert set(read_task_values(db, wanted)) == set(wanted[:-1])
    assert read_task_value(db, "analyze:c7") == {"status": "ok", "n": 7}
    assert read_task_value(db, "analyze:missing") is None


def test_stale_tasks_are_dropped_and_current_ones_kept(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)
    for name in ("analyze:keep", "analyze:gone", "report"):
        save(dep, name, {"status": "ok"})
    assert drop_stale_tasks(db, ["analyze:keep"], exists=lambda path: False) == ["analyze:gone"]
    assert set(read_task_values(db)) == {"analyze:keep"}


def test_a_result_not_planned_now_is_kept_while_one_of_its_files_exists(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)
    sent = [{"path": "a.py", "hash": "h", "start_line": 1, "end_line": 1, "total_lines": 1}]
    save(dep, "analyze:ignored-now", {"status": "ok", "sent": sent})

    assert drop_stale_tasks(db, [], exists=lambda path: path == "a.py") == []
    assert set(read_task_values(db)) == {"analyze:ignored-now"}


def test_a_chunk_result_survives_the_round_trip() -> None:
    result = ChunkResult(chunk="a", status="ok", raw_findings=({"file": "a"},), sent=(SentFile("a", "h", 1, 2, 2),))
    assert values_to_result(result_to_values(result)) == result


def test_the_checker_sees_an_edit_that_restores_mtime_and_size(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    checker = XxhashChecker()
    state = checker.get_state(str(path), None)
    stat = path.stat()
    time.sleep(0.01)
    path.write_text("x = 2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert checker.check_modified(str(path), path.stat(), state)


def test_the_checker_ignores_a_touch_that_keeps_the_content(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    checker = XxhashChecker()
    state = checker.get_state(str(path), None)
    os.utime(path, (1, 1))
    assert not checker.check_modified(str(path), path.stat(), state)


def test_a_read_only_state_directory_is_reported_as_a_permission_problem_not_a_corrupt_cache() -> None:
    message = str(state_error("s/doit.sqlite", sqlite3.OperationalError("attempt to write a readonly database")))

    assert "not writable" in message and "delete" not in message


def test_a_lock_file_that_cannot_be_created_is_a_permission_problem() -> None:
    message = str(state_error("s/lock", PermissionError(13, "Permission denied")))

    assert "not writable" in message and "keep them" in message


def test_a_file_that_is_not_a_database_is_called_one() -> None:
    message = str(state_error("s/doit.sqlite", sqlite3.DatabaseError("file is not a database")))

    assert "not a usable database" in message and "delete it" in message


def _table_less_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("create table other (x)")
    conn.commit()
    conn.close()


def test_a_database_file_without_its_table_yet_is_an_empty_cache_not_a_corrupt_one(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")  # what sqlite3.connect leaves before the first run creates its table
    table_less = tmp_path / "table-less.sqlite"
    _table_less_database(table_less)

    for db in (empty, table_less):
        check_database(db)
        assert read_task_values(db) == {}
        assert read_task_values(db, ["analyze:a"]) == {}
        assert drop_stale_tasks(db, [], exists=lambda path: False) == []


def test_a_first_run_uses_a_database_file_that_has_no_table_yet(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    _table_less_database(db)
    dep = Dependency(DurableSqliteDB, str(db), checker_cls=XxhashChecker, codec_cls=JSONCodec)
    save(dep, "analyze:a", {"status": "ok"})

    assert read_task_values(db) == {"analyze:a": {"status": "ok"}}


def test_only_a_file_that_is_not_a_database_is_reported_as_corrupt(tmp_path: Path) -> None:
    db = tmp_path / "doit.sqlite"
    db.write_bytes(b"this is not a database, it is a text file that is long enough\n" * 4)

    for read in (check_database, read_task_values):
        with pytest.raises(ClaudebuildError, match="not a usable database"):
            read(db)
