"""One top-level handler that turns exceptions into a sentence and an exit code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from kickflow.errors import KickflowError

EXIT_BAD_INPUT = 2


def describe(exc: BaseException) -> str:
    """The cause chain of an exception as sentences."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 4:
        text = str(current).strip() or type(current).__name__
        if text not in parts:
            parts.append(text)
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
