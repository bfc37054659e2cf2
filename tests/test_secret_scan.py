"""Tests for claudebuild.secrets.scan: what is found, what is redacted, what the cache keeps.

Every secret here is built at run time by concatenation, so this file itself
holds nothing a scanner (or GitHub push protection) would take for a secret.
"""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from claudebuild.secrets import gates as secret_gates
from claudebuild.secrets import scan as secret_scan
from claudebuild.text_lines import split_lines
from claudebuild.secrets.scan import (
    CATEGORY, PLACEHOLDER, FileScan, SecretHit, SecretScanner, redact, scan_content, secret_findings,
)

REPO = Path(__file__).resolve().parents[1]

AWS_KEY_ID = "AKIA" + "Z7QRS2LMNOPQ4XYW"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq8Rk3Lm9Q"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK_TOKEN = "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
KEY_BODY = [
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
]
PRIVATE_KEY = "\n".join(["-----BEGIN RSA " + "PRIVATE KEY-----", *KEY_BODY, "-----END RSA " + "PRIVATE KEY-----"]) + "\n"

SETTINGS_PY = f'''import os

DEBUG = False
AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"
AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"
DATABASE_URL = os.environ["DATABASE_URL"]
'''


def scan(path: str, text: str) -> FileScan:
    return scan_content(path, text.encode())


def found(path: str, text: str) -> list[tuple[int, str]]:
    """(line, the exact characters the hit covers) for every hit."""
    lines = split_lines(text)
    return [(hit.line, lines[hit.line - 1][hit.start:hit.end]) for hit in scan(path, text).hits]


# --- what is found ---------------------------------------------------------------


def test_an_aws_key_pair_in_settings_py_is_found_on_its_lines() -> None:
    assert found("app/settings.py", SETTINGS_PY) == [(4, AWS_KEY_ID), (5, AWS_SECRET)]


def test_a_github_token_is_found_whole_not_only_its_prefix() -> None:
    text = f"const headers = {{ Authorization: `token {GITHUB_TOKEN}` }};\n"
    assert found("web/client.js", text) == [(1, GITHUB_TOKEN)]


def test_a_slack_token_is_found() -> None:
    assert found("bot.py", f'SLACK_BOT = "{SLACK_TOKEN}"\n') == [(1, SLACK_TOKEN)]


def test_a_stripe_live_key_is_found() -> None:
    assert found("billing.rb", f"Stripe.api_key = '{STRIPE_KEY}'\n") == [(1, STRIPE_KEY)]


def test_an_aws_key_passed_inline_to_a_call_is_found() -> None:
    text = f'client = boto3.client("s3", aws_access_key_id="{AWS_KEY_ID}")\n'
    assert found("jobs/upload.py", text) == [(1, AWS_KEY_ID)]


def test_a_hard_coded_password_passed_to_a_call_is_found() -> None:
    text = 'conn = connect(host="db", password="' + "Tr0ub4dor&3x" + '")\n'
    assert found("db.py", text) == [(1, "Tr0ub4dor&3x")]


def test_an_unquoted_aws_secret_in_a_shell_script_is_found() -> None:
    text = f"#!/bin/sh\nexport AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
    assert found("deploy.sh", text) == [(2, AWS_SECRET)]


def test_a_private_key_file_is_secret_as_a_whole() -> None:
    assert scan("ops/deploy_material", PRIVATE_KEY) == FileScan((), "private key")


def test_a_pgp_private_key_block_is_secret_as_a_whole() -> None:
    armoured = "\n".join(["-----BEGIN PGP " + "PRIVATE KEY BLOCK-----", "", *KEY_BODY, "=abcd",
                          "-----END PGP " + "PRIVATE KEY BLOCK-----"]) + "\n"
    assert scan("keys/release.asc", armoured).whole_file == "private key"


def test_a_private_key_block_inside_code_is_redacted_from_begin_to_end() -> None:
    text = 'import ssl\n\nKEY = """' + PRIVATE_KEY + '"""\n\n\ndef load():\n    return ssl.load(KEY)\n' * 1
    text += "".join(f"value_{n} = {n}\n" for n in range(40))
    result = scan("tests/fixtures.py", text)
    assert result.whole_file == ""
    assert [(hit.line, hit.last_line, hit.detector) for hit in result.hits] == [(3, 7, "Private Key")]
    redacted = split_lines(redact(text, result))
    assert redacted[2] == 'KEY = """' + PLACEHOLDER
    assert redacted[3:7] == [PLACEHOLDER] * 4
    assert not any(line in redact(text, result) for line in KEY_BODY)


def test_a_private_key_escaped_on_one_line_is_redacted_in_that_line() -> None:
    text = '{"private_key": "' + PRIVATE_KEY.rstrip().replace("\n", "\\n") + '", "client_email": "a@b.example"}\n'
    text += '{"type": "service_account"}\n' * 20
    result = scan("config/account.json", text)
    assert [(hit.line, hit.detector) for hit in result.hits] == [(1, "Private Key")]
    assert split_lines(redact(text, result))[0] == '{"private_key": "' + PLACEHOLDER + '", "client_email": "a@b.example"}'


def test_terraform_state_is_secret_as_a_whole() -> None:
    state = '{\n  "version": 4,\n  "terraform_version": "1.6.2",\n  "resources": [{"type": "aws_db_instance"}]\n}\n'
    assert scan("infra/prod.state.json", state).whole_file == "Terraform state"


def test_a_kubeconfig_with_a_token_is_secret_as_a_whole() -> None:
    config = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: " + "k8s-" + "abcdef0123\n"
    assert scan("deploy/cluster.yaml", config).whole_file == "kubeconfig with credentials"


def test_a_kubeconfig_without_credentials_is_ordinary_content() -> None:
    config = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://k8s.example\n  name: prod\n"
    assert scan("deploy/cluster.yaml", config) == FileScan()


def test_a_kubernetes_secret_manifest_with_values_is_secret_as_a_whole() -> None:
    manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: " + "aHVudGVyMg==\n"
    assert scan("k8s/db.yaml", manifest).whole_file == "Kubernetes Secret with values"


def test_a_templated_kubernetes_secret_is_ordinary_content() -> None:
    manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {{ .Values.password | b64enc }}\n"
    assert scan("chart/templates/secret.yml", manifest).whole_file == ""


def test_a_putty_key_is_secret_as_a_whole() -> None:
    key = "PuTTY-User-Key-File-" + "3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\nAAAA\nBBBB\n"
    assert scan("id.txt", key).whole_file == "PuTTY private key"


def test_the_allowlist_pragma_written_by_the_repository_does_not_let_a_secret_through() -> None:
    text = f'EXAMPLE_TOKEN = "{GITHUB_TOKEN}"  # pragma: allowlist secret\n'
    assert scan("docs/example.py", text).hits


def test_ordinary_code_has_no_hits() -> None:
    """claudebuild's own modules: everything but the offline demo's and the fake API's sample credentials."""
    package = REPO / "claudebuild"
    paths = [path for path in sorted(package.rglob("*.py"))
             if "sample_repo" not in path.parts and "fakeapi" not in path.parts and path.name != "demo.py"]
    assert len(paths) > 40
    assert {str(path.relative_to(REPO)): scan_content(path.name, path.read_bytes()).hits
            for path in paths if scan_content(path.name, path.read_bytes()).hits} == {}


# --- the gates -------------------------------------------------------------------


def test_every_detector_has_a_gate_derived_from_its_current_patterns() -> None:
    engine = secret_gates.engine()
    ungated = [type(gated.plugin).__name__ for gated in engine.plugins if gated.gates is None]
    assert ungated == []


def test_a_detector_whose_patterns_changed_is_gated_by_its_own_regexes(monkeypatch: pytest.MonkeyPatch) -> None:
    _, gates = secret_gates._HAND_GATES["GitHubTokenDetector"]
    monkeypatch.setitem(secret_gates._HAND_GATES, "GitHubTokenDetector", ("00000000", gates))
    engine = secret_gates._Engine()
    (github,) = [gated for gated in engine.plugins if type(gated.plugin).__name__ == "GitHubTokenDetector"]
    assert github.gates is None and github.fallback
    text = f"curl -H 'Authorization: token {GITHUB_TOKEN}' https://api.github.com\n"
    assert [(hit.line, hit.detector) for hit in engine.scan("a.sh", text.encode(), split_lines(text))] == [
        (1, "GitHub Token")]


def test_the_keyword_gate_covers_every_word_of_the_keyword_list() -> None:
    from detect_secrets.plugins import keyword

    (words,) = secret_gates._HAND_GATES["KeywordDetector"][1]
    assert isinstance(words, secret_gates._Literals)
    for entry in keyword.DENYLIST:
        spelled = entry.replace("_?", "_").encode()
        assert any(word in spelled for word in words.words), entry


def test_the_gated_scan_finds_what_detect_secrets_finds_on_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = {
        "settings.py": SETTINGS_PY,
        "client.js": f"fetch(url, {{ headers: {{ Authorization: 'token {GITHUB_TOKEN}' }} }});\n",
        "bot.py": f'SLACK = "{SLACK_TOKEN}"\nSTRIPE = "{STRIPE_KEY}"\n',
        "config.yaml": "db:\n  password: " + "s3cr3t-Passw0rd\n",
        "notes.md": "See https://user:" + "hunter22@" + "db.example for the dump.\n",
        **{str(path.relative_to(REPO)): path.read_text(encoding="utf-8", errors="replace")
           for path in sorted([*(REPO / "claudebuild/sample_repo").rglob("*"), *(REPO / "claudebuild/fakeapi").glob("*.py")])
           if path.is_file() and "__pycache__" not in path.parts},
    }
    gated = {path: scan(path, text) for path, text in corpus.items()}
    engine = secret_gates.engine()
    every_line = lambda data, lines: {n: [gated.plugin for gated in engine.plugins] for n in range(1, len(lines) + 1)}  # noqa: E731
    monkeypatch.setattr(engine, "_candidates", every_line)
    assert gated == {path: scan(path, text) for path, text in corpus.items()}
    assert sum(len(result.hits) for result in gated.values()) >= 8


# --- redaction and findings ------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_redaction_keeps_every_line_and_its_ending(newline: str) -> None:
    text = SETTINGS_PY.replace("\n", newline)
    redacted = redact(text, scan("settings.py", text))
    assert AWS_KEY_ID not in redacted and AWS_SECRET not in redacted
    assert redacted.count(newline) == text.count(newline)
    assert split_lines(redacted)[3] == f'AWS_ACCESS_KEY_ID = "{PLACEHOLDER}"'
    assert split_lines(redacted)[5] == split_lines(text)[5]


def test_a_lone_carriage_return_does_not_end_a_line_for_the_scan() -> None:
    text = f'a = 1\rtoken = "{GITHUB_TOKEN}"\rb = 2\nc = 3\n'
    result = scan("old_mac.py", text)
    assert [hit.line for hit in result.hits] == [1]
    assert redact(text, result) == f'a = 1\rtoken = "{PLACEHOLDER}"\rb = 2\nc = 3\n'


def test_redaction_without_a_final_newline_keeps_the_text_shape() -> None:
    text = f'x = 1\nkey = "{STRIPE_KEY}"'
    assert redact(text, scan("a.py", text)) == f'x = 1\nkey = "{PLACEHOLDER}"'


def test_each_secret_becomes_one_high_finding_quoting_the_redacted_line() -> None:
    findings = secret_findings("app/settings.py", SETTINGS_PY, scan("app/settings.py", SETTINGS_PY))
    assert [(f.file, f.line, f.severity, f.category) for f in findings] == [
        ("app/settings.py", 4, "high", CATEGORY), ("app/settings.py", 5, "high", CATEGORY)]
    assert findings[0].title == "Hard-coded secret (AWS Access Key)"
    assert findings[0].quote == f'AWS_ACCESS_KEY_ID = "{PLACEHOLDER}"'
    assert not any(AWS_KEY_ID in str(f) or AWS_SECRET in str(f) for f in findings)


def test_a_line_found_by_a_vendor_rule_and_a_heuristic_is_named_after_the_vendor_rule() -> None:
    text = f'token = "{GITHUB_TOKEN}"\n'
    (finding,) = secret_findings("a.py", text, scan("a.py", text))
    assert finding.title == "Hard-coded secret (GitHub Token)"


# --- the cache -------------------------------------------------------------------


def test_the_same_content_is_scanned_once() -> None:
    scanner = SecretScanner()
    first = scanner.scan("app/settings.py", SETTINGS_PY.encode())
    assert scanner.scan("other/settings.py", SETTINGS_PY.encode()) == first
    assert scanner.scanned == 1


def test_a_saved_cache_spares_the_next_process_every_scan(tmp_path: Path) -> None:
    cache = tmp_path / "secret-scan.json"
    first = SecretScanner()
    first.load(cache)
    expected = first.scan("app/settings.py", SETTINGS_PY.encode())
    first.save()
    second = SecretScanner()
    second.load(cache)
    assert second.scan("app/settings.py", SETTINGS_PY.encode()) == expected
    assert second.scanned == 0


def test_the_cache_file_holds_no_secret(tmp_path: Path) -> None:
    cache = tmp_path / "secret-scan.json"
    scanner = SecretScanner()
    scanner.load(cache)
    for name, text in {"s.py": SETTINGS_PY, "k.py": f'T = "{GITHUB_TOKEN}"\nS = "{SLACK_TOKEN}"\n'}.items():
        assert scanner.scan(name, text.encode()).hits
    scanner.save()
    content = cache.read_text()
    for secret in (AWS_KEY_ID, AWS_SECRET, GITHUB_TOKEN, SLACK_TOKEN, GITHUB_TOKEN[4:20], AWS_SECRET[:12]):
        assert secret not in content


def test_a_cache_written_under_other_rules_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "secret-scan.json"
    key = f"{secret_scan.hash_bytes(SETTINGS_PY.encode())}:.py"
    cache.write_bytes(orjson.dumps({"settings": "older-rules", "entries": {key: ["", []]}}))
    scanner = SecretScanner()
    scanner.load(cache)
    assert len(scanner.scan("settings.py", SETTINGS_PY.encode()).hits) == 2
    assert scanner.scanned == 1


def test_an_unreadable_cache_file_is_an_empty_cache(tmp_path: Path) -> None:
    cache = tmp_path / "secret-scan.json"
    cache.write_text("{not json")
    scanner = SecretScanner()
    scanner.load(cache)
    assert scanner.scan("settings.py", SETTINGS_PY.encode()).hits


def test_scans_from_many_threads_agree() -> None:
    scanner = SecretScanner()
    texts = [SETTINGS_PY + f"N = {n}\n" for n in range(24)]
    results: dict[int, FileScan] = {}

    def work(n: int) -> None:
        results[n] = scanner.scan("settings.py", texts[n].encode())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result.hits == results[0].hits for result in results.values())
    assert results[0].hits == (SecretHit(4, 21, 41, "AWS Access Key"), SecretHit(5, 25, 65, "AWS Access Key"))
