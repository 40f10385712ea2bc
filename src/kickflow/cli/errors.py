"""One top-level handler that turns exceptions into a sentence and an exit code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from kickflow.errors import DatabaseError, KickflowError

EXIT_BAD_INPUT = 2


def describe(exc: BaseException) -> str:
    """The cause chain of an exception as sentences, on one line.

    A DatabaseError ends the chain: its message already carries the driver's first line, and
    the driver's own text goes on with the SQL and a link (its traceback is for ``-v``).
    """
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 4:
        text = (str(current).strip() or type(current).__name__).splitlines()[0]
        if text not in parts:
            parts.append(text)
        if isinstance(current, DatabaseError):
            break
        current = current.__cause__
    return " — ".join(parts)


@contextmanager
def handled(*, verbose: bool) -> Iterator[None]:
    """Print one sentence for known errors (and a traceback with ``-v``), then exit 2."""
    try:
        yield
    except KickflowError as exc:
        if verbose:
            traceback.print_exc()
        print(f"kickflow: {describe(exc)}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print("kickflow: interrupted", file=sys.stderr)
        sys.exit(130)
