"""``python -m kickflow.media.probe_child REQUEST``: the probe child's entry point.

Prints one JSON line: ``{"media": …}`` or ``{"error": {"class", "message"}}``. Runs under the
address-space limit its parent set; running out of it is reported as a resource limit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kickflow.errors import KickflowError


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    path = Path(request["path"])
    try:
        from kickflow.media.probe import probe_in_process
        from kickflow.media.probing import encode

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
