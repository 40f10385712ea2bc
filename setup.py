"""Build hook (everything else is in pyproject.toml): the wheel carries the runbooks as
``kickflow/runbooks/*.md`` for the dashboard's runbook pages. ``docs/runbooks/`` stays the
one copy; a source checkout reads it in place (:mod:`kickflow.web.runbooks`)."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RUNBOOKS = Path(__file__).parent / "docs" / "runbooks"


class BuildWithRunbooks(build_py):
    """``build_py``, then the runbooks copied into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "kickflow" / "runbooks"
        self.mkpath(str(target))
        for page in sorted(RUNBOOKS.glob("*.md")):
            self.copy_file(str(page), str(target / page.name))


setup(cmdclass={"build_py": BuildWithRunbooks})
