"""This repository's own tasks: claudebuild reviews its own source (`doit -n 5 analyze`, `doit report`).

Settings are in pyproject.toml under [tool.claudebuild]; the bundled sample
repository (whose problems are deliberate), the tests and the benchmarks are
left out there.
"""

from claudebuild.engine import dodo_tasks

globals().update(dodo_tasks(__file__))
