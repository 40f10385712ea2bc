"""Settings: every field is also a ``KICKFLOW_*`` environment variable.

Every field is a scalar (str, int, float, bool, Path), so reading the environment is one
lookup per field, validated by pydantic like any other input: a plain model, not
pydantic-settings, whose import (asyncio, argparse, its dotenv, CLI and cloud sources) cost
about a fifth of ``kickflow check``'s start-up. Names match case-insensitively, as before;
values passed to ``Settings(...)`` win over the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kickflow.errors import SettingsInvalid

ENV_PREFIX = "KICKFLOW_"


def environment_values(names: Mapping[str, object], environ: Mapping[str, str]) -> dict[str, str]:
    """The ``KICKFLOW_*`` variables that name a field, keyed by field name (any case)."""
    wanted = {f"{ENV_PREFIX}{name}".upper(): name for name in names}
    return {wanted[key.upper()]: value for key, value in environ.items() if key.upper() in wanted}


class Settings(BaseModel):
    """Runtime configuration, read from ``KICKFLOW_*`` environment variables."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**environment_values(cls.model_fields, os.environ), **data}
        return data

    data_dir: Path = Path("./var")
    database_url: str = ""

    ffmpeg: str = ""
    ffprobe: str = ""
    ffmpeg_stall_seconds: float = Field(120.0, gt=0)
    ffmpeg_wall_seconds: float = Field(0.0, ge=0, description="0 means no wall-clock limit")
    ffmpeg_max_memory_mb: int = Field(
        4096, ge=0, description="FFmpeg's address-space limit; 0 means no limit"
    )
    ffmpeg_kill_grace_seconds: float = Field(5.0, gt=0)

    lease_seconds: float = Field(60.0, gt=0)
    heartbeat_seconds: float = Field(10.0, gt=0)
    reaper_interval_seconds: float = Field(15.0, gt=0)
    stuck_after_seconds: float = Field(120.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    retry_base_seconds: float = Field(5.0, ge=0)
    retry_max_seconds: float = Field(300.0, ge=0)
    shutdown_grace_seconds: float = Field(30.0, ge=0)
    poll_seconds: float = Field(1.0, gt=0, description="idle workers look for new jobs this often")
    worker_concurrency: int = Field(1, ge=1, description="job slots per `kickflow worker`")
    org_max_running: int = Field(
        4, ge=0, description="running jobs per organisation (an organisation's row may override)"
    )
    org_max_queued: int = Field(1000, ge=1, description="queued jobs per organisation")
    max_files_per_upload: int = Field(20, ge=1, description="files in one upload request")
    member_max_priority: int = Field(
        10, ge=0, le=100, description="members may set priority in ±this; admins up to ±100"
    )

    allowed_roots: str = Field("", description="os.pathsep-separated directories for path sources")
    max_file_mb: int = Field(0, ge=0, description="0 means no limit")
    max_upload_mb: int = Field(10240, ge=1)

    # The url source: outbound HTTP to addresses users choose (kickflow.net).
    url_allow_hosts: str = Field(
        "",
        description="comma-separated host names URL downloads may reach although they are "
        "internal ('.corp.example' means every name below it)",
    )
    url_allow_networks: str = Field(
        "",
        description="comma-separated networks URL downloads may reach although they are "
        "internal, e.g. 10.20.0.0/16 (cloud metadata addresses stay refused)",
    )
    url_max_redirects: int = Field(5, ge=0, le=20, description="redirects a URL download follows")
    url_max_mb: int = Field(10240, ge=1, description="largest file a URL download fetches")
    url_connect_timeout_seconds: float = Field(10.0, gt=0)
    url_read_timeout_seconds: float = Field(
        30.0, gt=0, description="a URL download that sends nothing for this long is stopped"
    )
    url_total_timeout_seconds: float = Field(
        3600.0, gt=0, description="a URL download that takes longer than this is stopped"
    )

    # Slow or greedy HTTP clients (kickflow serve).
    http_header_timeout_seconds: float = Field(
        10.0, gt=0, description="a request's headers must arrive within this"
    )
    http_body_idle_seconds: float = Field(
        30.0, gt=0, description="longest pause between two chunks of a request body"
    )
    http_body_min_bytes_per_second: int = Field(
        1024, ge=0, description="slowest average body rate accepted after the idle window"
    )
    http_max_connections_per_client: int = Field(
        32, ge=1, description="open connections per client address"
    )
    health_cache_seconds: float = Field(
        5.0, gt=0, description="GET /api/health/full serves a snapshot at most this old"
    )
    health_probe_interval_seconds: float = Field(
        60.0, gt=0, description="outbound probes (transcription provider …) at most this often"
    )

    # Decode bombs: refused before decoding.
    max_frame_pixels: int = Field(
        8192 * 4608, ge=1, description="largest picture (width × height) analysed"
    )
    max_channels: int = Field(64, ge=1, description="most audio channels in one stream")
    max_streams: int = Field(128, ge=1, description="most streams in one file")
    max_duration_seconds: float = Field(
        86400.0, gt=0, description="longest programme analysed (declared duration)"
    )
    min_bytes_per_second: float = Field(
        32.0, ge=0, description="a file whose size / declared duration is below this is refused"
    )
    probe_max_memory_mb: int = Field(
        1024, ge=64, description="memory limit of the probe (a child process)"
    )
    probe_timeout_seconds: float = Field(60.0, gt=0, description="the probe is killed after this")

    # Database writes never wait without a bound (SQLite's single writer lock).
    db_lock_timeout_seconds: float = Field(
        5.0, gt=0, description="a write that cannot get the database lock within this fails"
    )

    # Where uploads and artefacts are kept: "local" (under data_dir) or "s3".
    storage: str = Field("local", pattern="^(local|s3)$")
    s3_bucket: str = ""
    s3_prefix: str = Field("", description="key prefix inside the bucket, e.g. 'kickflow/'")
    s3_endpoint_url: str = Field("", description="empty means AWS; set for other S3 servers")
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_presign_seconds: float = Field(
        900.0, gt=0, description="lifetime of the download links workers get"
    )

    # A worker that talks to the service instead of the database (`kickflow worker --server`).
    server_url: str = Field("", description="the service's URL for workers, e.g. http://qc:8000")
    worker_token: str = Field("", description="a token with the worker role")

    # The dashboard's sign-in sessions (cookie ``kf_session``).
    session_hours: float = Field(12.0, gt=0, description="a session ends this long after sign-in")
    session_idle_minutes: float = Field(
        60.0, ge=2, description="a session unused for this long ends (at least 2 minutes)"
    )
    cookie_secure: str = Field(
        "auto",
        pattern="^(auto|true|false)$",
        description="Secure cookies: auto = when the request came over https (X-Forwarded-Proto)",
    )
    sign_in_max_failures: int = Field(
        5, ge=1, description="failed sign-ins per account within the window before a pause"
    )
    sign_in_max_failures_per_address: int = Field(
        20, ge=1, description="failed sign-ins per client address within the window"
    )
    sign_in_window_minutes: float = Field(15.0, gt=0, description="window of the sign-in limits")
    invitation_days: float = Field(7.0, gt=0, description="an invitation link expires after this")
    public_url: str = Field(
        "",
        pattern=r"^(https?://[^\s/]+(/\S*)?)?$",
        description="the dashboard's address in links the CLI prints (invitations); empty: "
        "http://KICKFLOW_HOST:KICKFLOW_PORT (127.0.0.1:8000)",
    )

    max_subtitle_mb: float = Field(
        20.0, gt=0, description="largest subtitle file accepted beside a media file"
    )
    max_subtitle_files: int = Field(8, ge=0, description="subtitle files per job")

    # Transcription: an OpenAI-compatible ``POST /audio/transcriptions`` (Groq's by default).
    transcription_base_url: str = Field(
        "https://api.groq.com/openai/v1", description="the provider's API root (…/openai/v1)"
    )
    transcription_api_key: str = Field("", description="empty: transcription is off")
    transcription_model: str = "whisper-large-v3-turbo"
    transcription_codec: str = Field(
        "opus", pattern="^(opus|flac)$", description="how speech chunks are encoded"
    )
    transcription_max_chunk_mb: float = Field(
        24.0, gt=0, description="largest request body (Groq's free tier accepts 25 MB)"
    )
    transcription_max_chunk_seconds: float = Field(
        600.0, ge=10, description="longest speech audio in one request"
    )
    transcription_timeout_seconds: float = Field(120.0, gt=0, description="one request's limit")
    transcription_retries: int = Field(4, ge=0, description="retries of a request on 429/5xx")
    transcription_max_wait_seconds: float = Field(
        60.0, ge=0, description="total backoff (Retry-After included) before giving up"
    )
    transcription_org_daily_minutes: float = Field(
        0.0, ge=0, description="audio one organisation may send per UTC day (0: no cap)"
    )
    groq_api_key: str = Field("", description="deprecated: KICKFLOW_TRANSCRIPTION_API_KEY")
    groq_base_url: str = Field("", description="deprecated: KICKFLOW_TRANSCRIPTION_BASE_URL")

    # Secrets kept at rest (OAuth refresh tokens, webhook signing secrets): comma-separated
    # keys, the first encrypts, every one decrypts (rotation: put the new key first).
    secret_key: str = Field(
        "", description="comma-separated secret keys; the first encrypts, all decrypt"
    )

    # --- Google (kickflow.integrations.google) ---
    google_client_id: str = ""
    google_client_secret: str = ""
    # Google's endpoints: operator settings (trusted), so the clients call them directly.
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    google_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    google_drive_url: str = "https://www.googleapis.com/drive/v3"
    google_sheets_url: str = "https://sheets.googleapis.com/v4"
    google_sheets_export: bool = Field(
        False, description="ask for the spreadsheets scope and export QC results to Sheets"
    )
    google_timeout_seconds: float = Field(30.0, gt=0, description="per request to Google")
    google_retry_attempts: int = Field(4, ge=1, description="tries per request on 429/5xx")
    google_retry_base_seconds: float = Field(1.0, ge=0, description="first backoff wait")
    google_retry_max_seconds: float = Field(
        30.0, ge=0, description="longest wait between tries, Retry-After included"
    )
    google_sheets_interval_seconds: float = Field(
        30.0, gt=0, description="how often finished jobs are exported to Sheets on completion"
    )
    # --- end Google ---

    # --- webhooks (kickflow.integrations.webhooks) ---
    webhooks_enabled: bool = Field(
        True, description="run the webhook dispatcher in `kickflow serve`"
    )
    webhook_interval_seconds: float = Field(
        2.0, gt=0, description="how often the dispatcher looks for deliveries to send"
    )
    webhook_settle_seconds: float = Field(
        3.0,
        ge=0,
        description="jobs finished more recently than this wait for the next pass, so a "
        "slower transaction that finished earlier is never skipped",
    )
    webhook_retry_base_seconds: float = Field(30.0, gt=0, description="first retry wait")
    webhook_retry_max_seconds: float = Field(3600.0, gt=0, description="longest retry wait")
    webhook_retry_window_seconds: float = Field(
        86400.0, gt=0, description="a delivery is retried until this long after its first try"
    )
    webhook_max_sends_per_pass: int = Field(
        20, ge=1, description="sends per dispatcher pass over every endpoint"
    )
    webhook_connect_timeout_seconds: float = Field(5.0, gt=0)
    webhook_total_timeout_seconds: float = Field(15.0, gt=0)
    webhook_claim_seconds: float = Field(
        60.0, gt=0, description="how long a node owns an attempt before another may retry it"
    )
    # --- end webhooks ---

    # --- watch folders (kickflow.watch) ---
    watch_dirs: str = Field(
        "", description="os.pathsep-separated folders `kickflow serve` watches (empty: none)"
    )
    watch_profile: str = Field("default", description="the profile of watch-folder jobs")
    watch_project: str = Field("", description="the project of watch-folder jobs (empty: none)")
    watch_results: str = Field(
        "move",
        pattern="^(move|sidecar|none)$",
        description="what a finished job leaves: move (into passed/, needs_review/, failed/), "
        "sidecar (<file>.kickflow.json) or none",
    )
    watch_settle_seconds: float = Field(
        5.0, ge=0, description="a file is complete once its size and time are unchanged this long"
    )
    watch_interval_seconds: float = Field(2.0, gt=0, description="how often folders are looked at")
    # --- end watch folders ---

    def resolved_public_url(self) -> str:
        """Where people open the dashboard: ``public_url``, else what ``kickflow serve``
        listens on by default (KICKFLOW_HOST and KICKFLOW_PORT as it reads them)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        import os

        host = os.environ.get("KICKFLOW_HOST") or "127.0.0.1"
        return local_url(host, os.environ.get("KICKFLOW_PORT") or "8000")

    def resolved_transcription_key(self) -> str:
        """The provider's key; KICKFLOW_GROQ_API_KEY still works (older env files)."""
        return self.transcription_api_key or self.groq_api_key

    def resolved_transcription_url(self) -> str:
        """The provider's API root; KICKFLOW_GROQ_BASE_URL applies unless the new one is set."""
        if "transcription_base_url" not in self.model_fields_set and self.groq_base_url:
            return self.groq_base_url.rstrip("/")
        return self.transcription_base_url.rstrip("/")

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kickflow.db').resolve()}"

    def allowed_root_paths(self) -> list[Path]:
        """Directories under which path sources may be read."""
        import os

        return [Path(p).resolve() for p in self.allowed_roots.split(os.pathsep) if p.strip()]


def local_url(host: str, port: int | str) -> str:
    """The URL of a server listening on ``host``:``port``, as a browser on this machine opens
    it (a wildcard address is shown as the loopback one)."""
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - display only: nothing binds here
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def load_settings(**values: Any) -> Settings:
    """Settings from the environment (``values`` win); SettingsInvalid names the variable."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = f"{ENV_PREFIX}{first['loc'][0]}".upper() if first["loc"] else "a setting"
        raise SettingsInvalid(
            f"{name} is not valid ({first['msg'][:1].lower()}{first['msg'][1:]}); "
            "fix it or unset it."
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
