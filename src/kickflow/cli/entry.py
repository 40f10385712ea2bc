"""The ``kickflow`` console script: what must happen before the CLI's own imports.

``kickflow check`` starts its probe child first (``kickflow.media.probe_process``), so that the
child's 0.1 s of PyAV imports run on the other core while this process imports Typer, the
settings and the engine (start-up: benchmarks/bench_startup.py).
"""

from __future__ import annotations

import os
import sys

HELP_FLAGS = frozenset({"--help", "-h"})


def starts_a_check(argv: list[str]) -> bool:
    """True for ``kickflow check …`` that will check a file (not its help)."""
    return argv[1:2] == ["check"] and len(argv) > 2 and not HELP_FLAGS & set(argv)


def run() -> None:
    # Pydantic looks for plugins among every installed package's entry points (~15 ms); the
    # CLI uses none. An operator may set it back.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if starts_a_check(sys.argv):
        from kickflow.media import probe_process

        probe_process.prestart()
    from kickflow.cli import main

    main.run()
