"""``python -m kickflow.media.probe_child REQUEST``: the probe child's entry point.

Prints one JSON line: ``{"media": …}`` or ``{"error": {"class", "message"}}``. Runs under the
address-space limit its parent set; running out of it is reported as a resource limit.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from kickflow.errors import KickflowError

if TYPE_CHECKING:
    from kickflow.media.model import MediaInfo


def encode(media: MediaInfo) -> str:
    """The child's answer for a probed file (``kickflow.media.probing`` reads it).

    Here, not in ``probing``: that module imports the settings (pydantic), which would double
    the child's start-up for nothing.
    """
    return json.dumps({"media": asdict(media)})


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
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
    sys.exit(main(sys.argv[1:]))
