"""The shared remote cache's pure parts: the key, the entry and its strict check, the run's use of a store,
the shared-directory store, and the settings (a machine setting, never the repository's)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from claudebuild.config import Config
from claudebuild.config_sources import load_config
from claudebuild.errors import ClaudebuildError
from claudebuild.hashing import DEFAULT_HASHER
from claudebuild.model import Chunk, ChunkPart, ChunkResult
from claudebuild.pipeline.prompt import Payload, WorkingTree, build_payload
from claudebuild.run.remote_cache import CacheUnavailable, DirectoryStore, RemoteCache, open_store
from claudebuild.run.remote_entry import REMOTE, decode_entry, encode_entry, hit_result, remote_key

CHUNK = Chunk("app+2", (ChunkPart("app/a.py"), ChunkPart("app/b.py")))
FILES = {"app/a.py": "import os\n\nos.system(cmd)\n", "app/b.py": "x = eval(text)\n"}
FINDING = {"file": "app/a.py", "line": 3, "end_line": 3, "severity": "high", "category": "security/shell",
           "title": "shell injection", "message": "cmd reaches a shell", "quote": "os.system(cmd)"}


def payload_for(root: Path, files: dict[str, str] = FILES) -> Payload:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return build_payload(CHUNK, WorkingTree(root, DEFAULT_HASHER))


def result_for(payload: Payload, *findings: dict[str, Any]) -> ChunkResult:
    return ChunkResult(chunk=CHUNK.id, status="ok", raw_findings=findings or (FINDING,), session_id="s-1",
                       cwd="/home/me/repo/.claudebuild/session-cwd", cost_usd=0.0123, input_tokens=900,
                       output_tokens=40, duration_ms=1500, run_id="r1", sent=payload.sent)


class MemoryStore:
    def __init__(self, fail: str = "") -> None:
        self.entries: dict[str, bytes] = {}
        self.fail = fail
        self.asked = 0

    def get(self, key: str) -> bytes | None:
        self.asked += 1
        if self.fail:
            raise CacheUnavailable(self.fail)
        return self.entries.get(key)

    def put(self, key: str, data: bytes) -> None:
        self.asked += 1
        if self.fail:
            raise CacheUnavailable(self.fail)
        self.entries[key] = data

    def close(self) -> None:
        pass


# -- the key ---------------------------------------------------------------------------------------


def test_the_key_is_a_sha256_that_is_the_same_for_the_same_bytes_and_settings(tmp_path: Path) -> None:
    one, two = payload_for(tmp_path / "a"), payload_for(tmp_path / "b")
    key = remote_key(Config(), CHUNK, one)
    assert len(key) == 64 and int(key, 16) >= 0
    assert remote_key(Config(root=tmp_path), CHUNK, two) == key


def test_the_key_changes_with_a_file_the_model_the_instructions_or_the_chunk(tmp_path: Path) -> None:
    payload = payload_for(tmp_path / "a")
    key = remote_key(Config(), CHUNK, payload)
    edited = payload_for(tmp_path / "b", {**FILES, "app/b.py": "x = eval(text)  \n"})
    assert remote_key(Config(), CHUNK, edited) != key
    assert remote_key(Config(model="claude-opus-4-1"), CHUNK, payload) != key
    assert remote_key(Config(instructions="look for races"), CHUNK, payload) != key
    assert remote_key(Config(), Chunk("other", CHUNK.parts), payload) != key


# -- the entry -------------------------------------------------------------------------------------


def test_an_entry_holds_the_findings_and_cost_but_nothing_machine_local(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    key = remote_key(Config(), CHUNK, payload)
    data = encode_entry(key, result_for(payload), CHUNK, payload.sent)
    text = data.decode()
    assert "s-1" not in text and "/home/me" not in text and "r1" not in text
    hit = decode_entry(data, key, CHUNK, payload.sent)
    assert hit is not None and hit.raw_findings == (FINDING,) and hit.cost_usd == 0.0123
    assert (hit.input_tokens, hit.output_tokens, hit.duration_ms) == (900, 40, 1500)


def test_findings_outside_what_was_sent_are_left_out_of_the_entry(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    outside = [{**FINDING, "file": "app/c.py"}, {**FINDING, "line": 40, "end_line": 40}, {**FINDING, "severity": "bad"}]
    data = encode_entry("k", result_for(payload, FINDING, *outside), CHUNK, payload.sent)
    assert json.loads(data)["findings"] == [FINDING]


def test_a_finding_without_an_end_line_is_shared_ending_on_its_line(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    finding = {key: value for key, value in FINDING.items() if key != "end_line"}
    data = encode_entry("k", result_for(payload, finding), CHUNK, payload.sent)
    hit = decode_entry(data, "k", CHUNK, payload.sent)

    assert hit is not None and hit.raw_findings == ({**finding, "end_line": FINDING["line"]},)


def test_a_hit_becomes_a_local_result_keyed_to_the_bytes_here_with_no_session(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    data = encode_entry("k", result_for(payload), CHUNK, payload.sent)
    hit = decode_entry(data, "k", CHUNK, payload.sent)
    assert hit is not None
    result = hit_result(hit, CHUNK, payload.sent, run_id="r2", model="m", answer_digest="d", bytes_sent=9, at="now")
    assert result.origin == REMOTE and result.session_id == "" and result.cwd == "" and result.sent == payload.sent
    assert result.status == "ok" and result.run_id == "r2" and result.cost_usd == 0.0123


def tampered(data: bytes, **changes: Any) -> bytes:
    document = json.loads(data)
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize("change", [
    {"schema": "claudebuild-remote-result/0"},
    {"key": "0" * 64},
    {"chunk": "lib+1"},
    {"session_id": "s-9"},
    {"cost_usd": -1},
    {"cost_usd": "0.1"},
    {"input_tokens": True},
    {"output_tokens": 2.5},
    {"findings": "none"},
    {"findings": [{**FINDING, "file": "../../etc/passwd"}]},
    {"findings": [{**FINDING, "file": "/etc/passwd"}]},
    {"findings": [{**FINDING, "file": "lib/other.py"}]},
    {"findings": [{**FINDING, "line": 4, "end_line": 4}]},
    {"findings": [{**FINDING, "severity": "urgent"}]},
    {"findings": [{**FINDING, "extra": "x"}]},
    {"findings": [FINDING, {**FINDING, "line": 0}]},
], ids="-".join)
def test_an_entry_that_is_not_exactly_this_chunks_is_ignored(tmp_path: Path, change: dict[str, Any]) -> None:
    payload = payload_for(tmp_path)
    data = encode_entry("k", result_for(payload), CHUNK, payload.sent)
    assert decode_entry(data, "k", CHUNK, payload.sent) is not None
    assert decode_entry(tampered(data, **change), "k", CHUNK, payload.sent) is None


@pytest.mark.parametrize("data", [b"", b"garbage", b"[]", b"null", b'{"schema": 1}', b"{" * 10_000,
                                  b" " * (5 * 1024 * 1024)])
def test_garbage_is_ignored(tmp_path: Path, data: bytes) -> None:
    payload = payload_for(tmp_path)
    assert decode_entry(data, "k", CHUNK, payload.sent) is None


# -- the run's use of a store ----------------------------------------------------------------------


def test_a_fresh_result_is_offered_and_found_by_the_next_run(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    store = MemoryStore()
    key = remote_key(Config(), CHUNK, payload)
    assert RemoteCache(store).offer(key, result_for(payload), CHUNK, payload.sent)
    cache = RemoteCache(store)
    assert cache.find(key, CHUNK, payload.sent) is not None
    assert (cache.hits, cache.misses, cache.ignored) == (1, 0, 0)


def test_read_only_never_uploads(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    store = MemoryStore()
    assert not RemoteCache(store, read_only=True).offer("k", result_for(payload), CHUNK, payload.sent)
    assert store.entries == {} and store.asked == 0


def test_a_failed_result_is_never_uploaded(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    store = MemoryStore()
    failed = ChunkResult(chunk=CHUNK.id, status="error", error="boom", sent=payload.sent)
    assert not RemoteCache(store).offer("k", failed, CHUNK, payload.sent) and store.entries == {}


def test_a_result_made_from_other_bytes_than_the_key_describes_is_not_uploaded(tmp_path: Path) -> None:
    payload, edited = payload_for(tmp_path / "a"), payload_for(tmp_path / "b", {**FILES, "app/a.py": "changed\n"})
    store = MemoryStore()
    assert not RemoteCache(store).offer("k", result_for(edited), CHUNK, payload.sent) and store.entries == {}


def test_a_result_whose_text_holds_a_secret_is_not_uploaded(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    leaky = {**FINDING, "message": "the key AKIAIOSFODNN7EXAMPLE is committed"}  # pragma: allowlist secret
    store = MemoryStore()
    assert not RemoteCache(store).offer("k", result_for(payload, leaky), CHUNK, payload.sent)
    assert store.entries == {}


def test_the_first_failure_turns_the_cache_off_for_the_run_and_is_reported_once(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    store = MemoryStore(fail="GET answered HTTP 500")
    warnings: list[str] = []
    cache = RemoteCache(store, label="http://cache", warn=warnings.append)
    for _ in range(5):
        assert cache.find("k", CHUNK, payload.sent) is None
        assert not cache.offer("k", result_for(payload), CHUNK, payload.sent)
    assert store.asked == 1 and cache.disabled == "GET answered HTTP 500"
    assert warnings == [("claudebuild: remote cache http://cache unavailable (GET answered HTTP 500); "
                         "going on without it for the rest of this run")]


def test_an_invalid_entry_is_counted_and_reported_once(tmp_path: Path) -> None:
    payload = payload_for(tmp_path)
    store = MemoryStore()
    store.entries = {"a": b"garbage", "b": b"{}"}
    warnings: list[str] = []
    cache = RemoteCache(store, warn=warnings.append)
    assert cache.find("a", CHUNK, payload.sent) is None and cache.find("b", CHUNK, payload.sent) is None
    assert cache.find("c", CHUNK, payload.sent) is None
    assert (cache.ignored, cache.misses, len(warnings)) == (2, 3, 1) and not cache.disabled


# -- the shared-directory store --------------------------------------------------------------------


def test_a_directory_store_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = open_store((tmp_path / "shared").as_uri())
    assert isinstance(store, DirectoryStore)
    assert store.get("ab" * 32) is None
    store.put("ab" * 32, b"entry")
    assert store.get("ab" * 32) == b"entry"
    assert [path.name for path in (tmp_path / "shared/ac").iterdir()] == ["ab" * 32]


def test_concurrent_writers_of_one_key_leave_one_whole_entry(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    bodies = [bytes([65 + n]) * 200_000 for n in range(8)]
    threads = [threading.Thread(target=store.put, args=("k", body)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("k") in bodies and len(list((tmp_path / "ac").iterdir())) == 1


def test_a_directory_store_that_cannot_be_written_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(CacheUnavailable):
        DirectoryStore(tmp_path / "file").put("k", b"x")


# -- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("ftp://cache", "must start with http://, https:// or file://"),
    ("http://user:secret@cache/x", "must not hold credentials: put the token in $CLAUDEBUILD_CACHE_TOKEN"),
    ("https://cache/x?a=1", "must not have a query"),
    ("file://host/dir", "must name an absolute directory"),
    ("http:///path", "names no valid host"),
    ("http://cache:99999/x", "names no valid host"),
])
def test_a_bad_cache_url_is_one_line_naming_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     url: str, expected: str) -> None:
    monkeypatch.setenv("CLAUDEBUILD_CACHE_URL", url)
    with pytest.raises(ClaudebuildError) as error:
        load_config(tmp_path)
    assert expected in str(error.value) and "CLAUDEBUILD_CACHE_URL" in str(error.value)


def test_the_cache_comes_from_the_environment_or_a_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDEBUILD_CACHE_URL", "https://cache.example.com/cb")
    monkeypatch.setenv("CLAUDEBUILD_CACHE_READ_ONLY", "1")
    config = load_config(tmp_path)
    assert (config.cache_url, config.cache_read_only) == ("https://cache.example.com/cb", True)
    assert load_config(tmp_path, {"cache_url": "file:///srv/cache"}).cache_url == "file:///srv/cache"


def test_the_user_config_may_set_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "xdg"
    (home / "claudebuild").mkdir(parents=True)
    (home / "claudebuild/config.toml").write_text('cache_url = "https://cache.example.com/cb"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    (tmp_path / "repo").mkdir()
    assert load_config(tmp_path / "repo").cache_url == "https://cache.example.com/cb"


@pytest.mark.parametrize("line", ['cache_url = "http://attacker.example/x"', "cache_read_only = false"])
def test_a_repository_file_cannot_point_or_unguard_the_cache(tmp_path: Path, line: str) -> None:
    (tmp_path / "claudebuild.toml").write_text(line + "\n")
    with pytest.raises(ClaudebuildError) as error:
        load_config(tmp_path)
    key = line.split(" ")[0]
    assert str(error.value).startswith(f"claudebuild.toml: {key} ") and "cannot be set by the repository" in str(error.value)
    assert f"--{key.replace('_', '-')}" in str(error.value)
