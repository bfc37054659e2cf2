"""A deterministic, realistic-looking repository for the benchmarks.

`generate_repo(root, files=1000, seed=1)` writes N text files (Python, JavaScript,
Markdown) into nested package/component/doc directories. Every byte depends only
on (files, seed): two calls give identical trees, so benchmark runs compare.

- sizes are log-uniform between 200 B and 8 KB (median ~1.3 KB), like real source;
- about 3% of the files carry one planted problem that the fake API's regex
  reviewer reports (`eval(`, bare `except:`, `# TODO`, `os.system(`, an SQL string
  built with an f-string, a hard-coded password); the manifest lists each one
  with its exact line;
- every other line is written so that no reviewer rule can match it by accident,
  so the expected number of findings is exactly the number of planted problems;
- `git=True` also makes it a git work tree with one commit (fixed author and date),
  so claudebuild discovers it with `git ls-files`; without it, by a directory walk.

Run it on its own to look at a tree:  python bench/generate.py /tmp/repo --files 200 [--git]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

MIN_SIZE = 200
MAX_SIZE = 8_000
PROBLEM_RATE = 0.03

WORDS = (
    "account", "address", "audit", "balance", "batch", "billing", "buffer", "cache", "cart", "catalog", "channel",
    "client", "cluster", "config", "counter", "cursor", "customer", "dataset", "digest", "discount", "document",
    "event", "export", "feature", "filter", "gateway", "graph", "handler", "history", "import", "index", "invoice",
    "item", "job", "journal", "label", "ledger", "limit", "listing", "locale", "metric", "module", "notice", "order",
    "owner", "packet", "page", "payment", "policy", "price", "profile", "queue", "quota", "record", "region",
    "report", "request", "route", "schedule", "schema", "search", "segment", "session", "shipment", "signal",
    "snapshot", "source", "status", "stock", "summary", "tag", "task", "template", "tenant", "ticket", "timer",
    "trace", "upload", "user", "vendor", "version", "warehouse", "widget", "window", "worker",
)  # fmt: skip
VERBS = (
    "build", "check", "collect", "compute", "convert", "count", "create", "decode", "encode", "fetch", "find",
    "format", "group", "load", "merge", "normalize", "parse", "prepare", "read", "refresh", "render", "resolve",
    "save", "select", "sort", "split", "store", "sync", "update", "validate", "write",
)  # fmt: skip
PROSE = (
    "This module keeps the moving parts small and explicit.",
    "Values are validated at the boundary and trusted afterwards.",
    "The order of the steps matters: later steps read what earlier ones wrote.",
    "Errors are reported to the caller instead of being logged and dropped.",
    "Each function does one thing and returns a new value rather than mutating its input.",
    "The limits below were chosen from production measurements, not guessed.",
    "Callers should treat the returned mapping as read-only.",
    "Retries belong to the caller, which knows whether an operation is idempotent.",
    "Large inputs are processed in batches so memory stays bounded.",
    "See the design notes in the docs directory for the reasoning behind the layout.",
)  # fmt: skip

TOP_LEVEL = (
    ("src", "py", 4, 5), ("services", "py", 3, 3), ("tools", "py", 2, 1), ("tests", "py", 2, 2),
    ("web", "js", 4, 3), ("packages", "js", 3, 2), ("docs", "md", 3, 1),
)  # (directory, main language, max depth below it, weight)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """One planted defect: where it is and which reviewer rule reports it."""

    path: str
    line: int
    category: str


@dataclass
class Manifest:
    root: str
    files: int
    seed: int
    total_bytes: int = 0
    by_language: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data = asdict(self)
        data["paths"] = len(self.paths)
        return json.dumps(data, indent=2)


# --- planted problems: (category, language) -> the offending line(s); the flagged line is the last one ---
PROBLEMS: dict[str, dict[str, list[str]]] = {
    "security/eval": {
        "py": ["    return eval(expression)"],
        "js": ["  return eval(expression);"],
    },
    "error-handling/bare-except": {
        "py": ["    try:", "        return int(expression)", "    except:"],
    },
    "maintainability/todo": {
        "py": ["    # TODO: handle the empty case before release"],
        "js": ["  // TODO: handle the empty case before release"],
        "md": ["TODO: document the migration steps before release."],
    },
    "security/shell-injection": {
        "py": ["    os.system('sh -c ' + expression)"],
    },
    "security/sql-injection": {
        "py": ["    cursor.execute(f\"SELECT * FROM records WHERE name = '{expression}'\")"],
    },
    "security/hardcoded-password": {
        "py": ["    password = \"correct-horse-battery\""],
    },
}


class _Writer:
    """Builds one file's lines from a seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def name(self) -> str:
        return f"{self.rng.choice(VERBS)}_{self.rng.choice(WORDS)}"

    def camel(self) -> str:
        verb, noun = self.rng.choice(VERBS), self.rng.choice(WORDS)
        return verb + noun.capitalize()

    # -- Python
    def py_header(self, module: str) -> list[str]:
        return [f'"""{module.replace("_", " ").capitalize()}: {self.rng.choice(PROSE)}"""', "",
                "from __future__ import annotations", "", "import json", "import os",
                "from dataclasses import dataclass", ""]

    def py_block(self) -> list[str]:
        kind = self.rng.random()
        noun = self.rng.choice(WORDS)
        if kind < 0.2:
            cls = noun.capitalize() + self.rng.choice(("Record", "Entry", "Item", "State"))
            fields = self.rng.sample(WORDS, 3)
            return ["", "@dataclass(frozen=True)", f"class {cls}:", f'    """A {noun} as stored on disk."""', "",
                    *(f"    {f}: {t}" for f, t in zip(fields, ("str", "int", "float"))), "",
                    "    def to_dict(self) -> dict:",
                    "        return {" + ", ".join(f'"{f}": self.{f}' for f in fields) + "}", ""]
        func, arg = self.name(), self.rng.choice(WORDS)
        lines = ["", f"def {func}({arg}s, limit=100):", f'    """{self.rng.choice(PROSE)}"""', "    result = []"]
        lines += [f"    for {arg} in {arg}s[:limit]:",
                  f"        if not {arg}:",
                  "            continue",
                  f"        value = str({arg}).strip().lower()",
                  f"        result.append({{\"{noun}\": value, \"size\": len(value)}})"]
        if self.rng.random() < 0.5:
            lines += ["    if len(result) > limit:", f"        raise ValueError(\"too many {noun} entries\")"]
        lines += ["    return result", ""]
        return lines

    def py_problem_host(self, problem: list[str]) -> list[str]:
        return ["", f"def {self.name()}(expression, cursor=None):", '    """Kept for backwards compatibility."""',
                *problem, "        return None" if problem[-1].strip() == "except:" else "    return None", ""]

    # -- JavaScript
    def js_header(self, module: str) -> list[str]:
        return [f"// {module}: {self.rng.choice(PROSE)}", "'use strict';", "",
                "const path = require('path');", ""]

    def js_block(self) -> list[str]:
        fn, noun = self.camel(), self.rng.choice(WORDS)
        lines = ["", f"function {fn}({noun}s, limit = 100) {{", f"  // {self.rng.choice(PROSE)}",
                 "  const result = [];",
                 f"  for (const {noun} of {noun}s.slice(0, limit)) {{",
                 f"    if (!{noun}) continue;",
                 f"    result.push({{ {noun}: String({noun}).trim(), size: String({noun}).length }});",
                 "  }",
                 "  return result;", "}"]
        if self.rng.random() < 0.4:
            lines += ["", f"module.exports.{fn} = {fn};"]
        return lines

    def js_problem_host(self, problem: list[str]) -> list[str]:
        return ["", f"function {self.camel()}(expression) {{", "  // kept for backwards compatibility",
                *problem, "  return null;", "}"]

    # -- Markdown
    def md_header(self, module: str) -> list[str]:
        return [f"# {module.replace('_', ' ').capitalize()}", "", self.rng.choice(PROSE), ""]

    def md_block(self) -> list[str]:
        lines = ["", f"## {self.rng.choice(VERBS).capitalize()} the {self.rng.choice(WORDS)}", ""]
        lines += [" ".join(self.rng.sample(PROSE, 3)), ""]
        if self.rng.random() < 0.5:
            lines += [f"- `{self.name()}` returns a new list.", f"- `{self.name()}` never raises on empty input.", ""]
        else:
            lines += ["```python", f"{self.name()}(items, limit=10)", "```", ""]
        return lines

    def md_problem_host(self, problem: list[str]) -> list[str]:
        return ["", "## Open questions", "", *problem, ""]


def _directories(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` nested directories (path, language), spread over the top-level areas."""
    dirs: list[tuple[str, str]] = []
    for top, language, _, _ in TOP_LEVEL:
        dirs.append((top, language))
    weights = [weight for *_, weight in TOP_LEVEL]
    while len(dirs) < count:
        top, language, depth, _ = rng.choices(TOP_LEVEL, weights)[0]
        parts = [top] + [rng.choice(WORDS) + ("s" if rng.random() < 0.3 else "") for _ in range(rng.randint(1, depth))]
        path = "/".join(parts)
        if all(existing != path for existing, _ in dirs):
            dirs.append((path, language))
    return dirs


def _language_for(rng: random.Random, area_language: str) -> str:
    """Mostly the area's language, with some Markdown (READMEs, notes) everywhere."""
    if area_language != "md" and rng.random() < 0.1:
        return "md"
    return area_language


def _content(rng: random.Random, language: str, module: str, target: int, problem: str | None) -> tuple[str, int | None]:
    """File text of about `target` bytes (200..8000) and the 1-based line of the planted problem, if any."""
    writer = _Writer(rng)
    header, block, host = {
        "py": (writer.py_header, writer.py_block, writer.py_problem_host),
        "js": (writer.js_header, writer.js_block, writer.js_problem_host),
        "md": (writer.md_header, writer.md_block, writer.md_problem_host),
    }[language]
    lines = header(module)
    planted = host(PROBLEMS[problem][language]) if problem else []
    size = lambda chunk: sum(len(line) + 1 for line in chunk)  # noqa: E731
    budget = target - size(planted)
    while True:  # whole blocks only, so every file stays well-formed code
        extra = block()
        if size(lines) + size(extra) > budget and size(lines) + size(planted) >= MIN_SIZE + 2:
            break
        lines += extra
    problem_at: int | None = None
    if planted:
        at = len(lines) // 2 if rng.random() < 0.5 else len(lines)
        while at < len(lines) and lines[at].strip():  # between two blocks
            at += 1
        lines[at:at] = planted
        flagged_text = PROBLEMS[problem][language][-1]
        problem_at = at + max(i for i, line in enumerate(planted) if line == flagged_text) + 1
    text = "\n".join(lines).rstrip("\n") + "\n"
    return text, problem_at


def generate_repo(root: Path, files: int = 1000, seed: int = 1, *, git: bool = False) -> Manifest:
    """Write the repository under `root` (created; must be empty or absent) and return its manifest."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    rng = random.Random(f"claudebuild-bench:{seed}")
    dirs = _directories(rng, max(len(TOP_LEVEL), files // 12))
    manifest = Manifest(root=str(root), files=files, seed=seed)
    problem_kinds = sorted(PROBLEMS)
    used: set[str] = set()
    for index in range(files):
        directory, area_language = dirs[index % len(dirs)] if index < len(dirs) else rng.choice(dirs)
        language = _language_for(rng, area_language)
        while True:
            stem = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}" if rng.random() < 0.6 else rng.choice(WORDS)
            path = f"{directory}/{stem}.{language}"
            if path not in used:
                used.add(path)
                break
        target = int(math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))))
        problem = None
        if rng.random() < PROBLEM_RATE:
            candidates = [kind for kind in problem_kinds if language in PROBLEMS[kind]]
            problem = rng.choice(candidates)
        text, line = _content(rng, language, stem, target, problem)
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text, encoding="utf-8")
        manifest.paths.append(path)
        manifest.total_bytes += len(text.encode())
        manifest.by_language[language] = manifest.by_language.get(language, 0) + 1
        if problem and line:
            manifest.problems.append(Problem(path, line, problem))
    manifest.paths.sort()
    if git:
        git_commit_all(root, "generated benchmark repository")
    return manifest


GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}  # fmt: skip


def git_commit_all(root: Path, message: str) -> None:
    env = {**os.environ, **GIT_ENV}
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "--no-gpg-sign", "-m", message], check=True, env=env)


def edit_one_file(root: Path, manifest: Manifest, seed: int = 1) -> str:
    """Append a harmless line to one problem-free Python file (deterministic); returns its path."""
    planted = {problem.path for problem in manifest.problems}
    candidates = [path for path in manifest.paths if path.endswith(".py") and path not in planted]
    path = random.Random(f"claudebuild-bench-edit:{seed}").choice(candidates)
    with open(Path(root) / path, "a", encoding="utf-8") as handle:
        handle.write("\n\nEDITED_FOR_BENCHMARK = True\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--git", action="store_true", help="git init and commit everything")
    args = parser.parse_args()
    manifest = generate_repo(args.root, args.files, args.seed, git=args.git)
    print(manifest.to_json())


if __name__ == "__main__":
    main()
