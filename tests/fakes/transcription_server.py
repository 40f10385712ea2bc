"""A local stand-in for an OpenAI/Groq-compatible transcription provider, on 127.0.0.1.

A real HTTP server (threads, real sockets): ``POST {root}/audio/transcriptions`` takes the
multipart form the OpenAI API defines (``file``, ``model``, ``response_format``, optional
``language``) and answers ``verbose_json``; ``GET {root}/models`` lists models. It checks the
Bearer key (401 otherwise), refuses bodies over ``max_body_bytes`` (413), and plays scripted
failures on demand: ``fail_next(429, retry_after="2")``, ``fail_next(500, times=2)``, or
``hang_next()`` (answers nothing until released or stopped).

It cannot understand speech, so it answers what it can measure: it decodes the uploaded audio
with FFmpeg and returns one segment per run of sound (20 ms frames above -40 dBFS, gaps under
0.2 s bridged), with times in the uploaded audio's own clock, as a real provider does. A test
then knows exactly where each segment must land in programme time.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from kickflow.media.binaries import find_ffmpeg

ROOT = "/openai/v1"
KEY = "gsk_fake_provider_key_0123456789"
MODELS = ("whisper-large-v3-turbo", "whisper-large-v3")
RATE = 16000
FRAME = RATE // 50  # 20 ms
LOUD = 10 ** (-40 / 20) * 32768  # -40 dBFS as a 16-bit amplitude (RMS)
BRIDGE_FRAMES = 10  # 0.2 s


@dataclass(frozen=True)
class Upload:
    """One transcription request as the provider received it."""

    authorization: str
    fields: dict[str, str]
    filename: str
    content_type: str
    audio: bytes
    body_bytes: int
    seconds: float  # decoded duration of the uploaded audio


@dataclass
class Script:
    status: int
    times: int = 1
    retry_after: str | None = None
    route: str = "transcriptions"  # or "models"


@dataclass
class ProviderState:
    key: str = KEY
    language: str = "english"
    max_body_bytes: int = 25_000_000
    scripts: list[Script] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, route, status
    hang: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeProvider:
    """The running server: ``url`` is the API root to configure, the rest drives and reads it."""

    def __init__(self) -> None:
        self.state = ProviderState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{ROOT}"

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        route: str = "transcriptions",
    ) -> None:
        with self.state.lock:
            self.state.scripts.append(Script(status, times, retry_after, route))

    def hang_next(self) -> None:
        """Every request from now on waits (no answer) until :meth:`release`."""
        self.state.hang = threading.Event()

    def release(self) -> None:
        if self.state.hang is not None:
            self.state.hang.set()
            self.state.hang = None

    @property
    def uploads(self) -> list[Upload]:
        with self.state.lock:
            return list(self.state.uploads)

    def statuses(self, route: str = "transcriptions") -> list[int]:
        with self.state.lock:
            return [status for _, r, status in self.state.requests if r == route]


@contextmanager
def running_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    try:
        yield provider
    finally:
        provider.stop()


class _Handler(BaseHTTPRequestHandler):
    state: ProviderState
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path != f"{ROOT}/models":
            return self._reply("models", 404, {"error": {"message": "not found"}})
        if self._refused("models"):
            return None
        models = [{"id": name, "object": "model"} for name in MODELS]
        return self._reply("models", 200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != f"{ROOT}/audio/transcriptions":
            return self._reply("transcriptions", 404, {"error": {"message": "not found"}})
        if self._refused("transcriptions"):
            return None
        if length > self.state.max_body_bytes:
            return self._reply("transcriptions", 413, {"error": {"message": "too large"}})
        upload = self._upload(body)
        with self.state.lock:
            self.state.uploads.append(upload)
        return self._reply("transcriptions", 200, self._verbose_json(upload))

    def _refused(self, route: str) -> bool:
        """Hang, a scripted failure or a wrong key: answered here (True), else False."""
        hang = self.state.hang
        if hang is not None:
            hang.wait(timeout=60)
            self.close_connection = True
            return True
        script = self._scripted(route)
        if script is not None:
            headers = {"Retry-After": script.retry_after} if script.retry_after else {}
            message = {"error": {"message": f"scripted {script.status}"}}
            self._reply(route, script.status, message, headers)
            return True
        if self.headers.get("Authorization") != f"Bearer {self.state.key}":
            self._reply(route, 401, {"error": {"message": "Invalid API Key"}})
            return True
        return False

    def _scripted(self, route: str) -> Script | None:
        with self.state.lock:
            for script in self.state.scripts:
                if script.route == route and script.times > 0:
                    script.times -= 1
                    return script
        return None

    def _upload(self, body: bytes) -> Upload:
        content_type = self.headers.get("Content-Type", "")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        fields: dict[str, str] = {}
        filename, file_type, audio = "", "", b""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            raw = part.get_payload(decode=True)
            payload = raw if isinstance(raw, bytes) else b""
            if name == "file":
                filename = part.get_filename() or ""
                file_type, audio = part.get_content_type(), payload
            elif isinstance(name, str):
                fields[name] = payload.decode()
        samples = decode(audio)
        return Upload(
            self.headers.get("Authorization", ""),
            fields,
            filename,
            file_type,
            audio,
            len(body),
            len(samples) / RATE,
        )

    def _verbose_json(self, upload: Upload) -> dict[str, Any]:
        runs = sound_runs(decode(upload.audio))
        texts = [f"segment {i + 1}" for i in range(len(runs))]
        segments = [
            {"id": i, "start": start, "end": end, "text": f" {text}", "no_speech_prob": 0.0}
            for i, ((start, end), text) in enumerate(zip(runs, texts, strict=True))
        ]
        return {
            "task": "transcribe",
            "language": upload.fields.get("language") or self.state.language,
            "duration": upload.seconds,
            "text": " ".join(texts),
            "segments": segments,
        }

    def _reply(
        self, route: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        with self.state.lock:
            self.state.requests.append((self.command, route, status))
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        return


def decode(audio: bytes) -> np.ndarray[Any, np.dtype[np.int16]]:
    """Any uploaded audio as 16 kHz mono s16le samples (FFmpeg)."""
    if not audio:
        return np.zeros(0, dtype=np.int16)
    quiet = ["-nostdin", "-hide_banner", "-loglevel", "error"]
    done = subprocess.run(
        [
            find_ffmpeg().path,
            *quiet,
            "-i",
            "pipe:0",
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-",
        ],
        input=audio,
        capture_output=True,
        check=False,
    )
    return np.frombuffer(done.stdout, dtype="<i2")


def sound_runs(samples: np.ndarray[Any, np.dtype[np.int16]]) -> list[tuple[float, float]]:
    """(start, end) seconds of each run of 20 ms frames louder than -40 dBFS."""
    frames = len(samples) // FRAME
    if frames == 0:
        return []
    power = np.square(samples[: frames * FRAME].astype(np.float64)).reshape(frames, FRAME)
    loud = np.sqrt(power.mean(axis=1)) > LOUD
    runs: list[list[int]] = []
    for index in np.flatnonzero(loud):
        if runs and index - runs[-1][1] <= BRIDGE_FRAMES:
            runs[-1][1] = int(index)
        else:
            runs.append([int(index), int(index)])
    return [(round(a * FRAME / RATE, 3), round((b + 1) * FRAME / RATE, 3)) for a, b in runs]
