"""The ``kickflow`` console script: what must happen before the CLI's own imports and after
the command.

``kickflow check`` starts its probe child first (``kickflow.media.probe_process``), so that the
child's 0.1 s of PyAV imports run on the other core while this process imports Typer, the
settings and the engine (start-up: benchmarks/bench_startup.py). When the check has printed
its report, the process ends without tearing the interpreter down: freeing every module and
object one by one took 0.12 s, a tenth of the decode of a 20-s clip, for nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn

HELP_FLAGS = frozenset({"--help", "-h"})


def starts_a_check(argv: list[str]) -> bool:
    """True for ``kickflow check …`` that will check a file (not its help)."""
    return argv[1:2] == ["check"] and len(argv) > 2 and not HELP_FLAGS & set(argv)


def run() -> None:
    # Pydantic looks for plugins among every installed package's entry points (~15 ms); the
    # CLI uses none. An operator may set it back.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    checking = starts_a_check(sys.argv)
    if checking:
        from kickflow.media import probe_process

        probe_process.prestart()
    from kickflow.cli import main

    try:
        main.run()
    except SystemExit as done:
        if checking and (done.code is None or isinstance(done.code, int)):
            exit_now(done.code or 0)
        raise  # not a check, or a message to print: the usual way


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once the exit handlers have run and the output is out,
    skipping the interpreter's teardown."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed: nothing more can be written
            stream.flush()
    os._exit(code)
