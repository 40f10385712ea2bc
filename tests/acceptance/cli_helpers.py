"""Running the real ``kickflow`` command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def kickflow(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``python -m kickflow ARGS`` with this interpreter; output captured as text."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kickflow", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
