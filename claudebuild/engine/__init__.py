"""The doit adapter: the only code that imports doit.

`from claudebuild.engine import dodo_tasks` is the public entry of a user's dodo.py; it is imported lazily so
that importing one engine module (the store, say) does not pull in the whole run layer.
"""

from __future__ import annotations

from typing import Any


def dodo_tasks(dodo_file: str, **overrides: Any) -> dict[str, Any]:
    """The task generators for the dodo.py at `dodo_file` (see `claudebuild.engine.loader`)."""
    from claudebuild.engine.loader import dodo_tasks as load

    return load(dodo_file, **overrides)
