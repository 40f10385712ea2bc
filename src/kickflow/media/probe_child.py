"""``python -m kickflow.media.probe_child``: the probe child's entry point.

Imports PyAV first, then reads its request as one JSON line on stdin, caps its own address
space (``max_memory_mb``) before it opens the file, and prints one JSON line:
``{"media": …}`` or ``{"error": {"class", "message"}}``; running out of memory is reported as
a resource limit. End of input without a request: nothing was wanted, exit 0. Reading the
request after the imports lets a caller start the child before it knows the file
(``kickflow.media.probe_process``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kickflow.errors import KickflowError
from kickflow.media.runner import limit_address_space

if TYPE_CHECKING:
    from kickflow.media.model import MediaInfo


def encode(media: MediaInfo) -> str:
    """The child's answer for a probed file (``kickflow.media.probing`` reads it).

    Here, not in ``probing``: that module imports the settings (pydantic), which would double
    the child's start-up for nothing.
    """
    return json.dumps({"media": asdict(media)})


def main() -> int:
    from kickflow.media import probe  # noqa: F401  (before the request: the slow part)

    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    limit_address_space(int(request.get("max_memory_mb", 0)))
    return answer(request)


def answer(request: dict[str, Any]) -> int:
    """Probe the requested file and print the answer line."""
    path = Path(request["path"])
    try:
        from kickflow.media.probe import probe_in_process

        media = probe_in_process(
            path,
            int(request["size_bytes"]),
            allow_raw_pcm=bool(request["allow_raw_pcm"]),
            max_pixels=int(request["max_pixels"]),
        )
        print(encode(media))
    except KickflowError as exc:
        print(json.dumps({"error": {"class": type(exc).__name__, "message": exc.message}}))
    except MemoryError:
        message = f"refused: probing {path.name} needed more memory than its limit"
        print(json.dumps({"error": {"class": "ResourceLimitExceeded", "message": message}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
