"""Settings: every field is also a ``KICKFLOW_*`` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration, read from ``KICKFLOW_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KICKFLOW_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str = ""

    ffmpeg: str = ""
    ffprobe: str = ""
    ffmpeg_stall_seconds: float = Field(120.0, gt=0)
    ffmpeg_wall_seconds: float = Field(0.0, ge=0, description="0 means no wall-clock limit")
    ffmpeg_max_memory_mb: int = Field(0, ge=0, description="0 means no memory limit")
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
    org_max_running: int = Field(0, ge=0, description="running jobs per organisation; 0 = no cap")

    allowed_roots: str = Field("", description="os.pathsep-separated directories for path sources")
    max_file_mb: int = Field(0, ge=0, description="0 means no limit")
    max_upload_mb: int = Field(10240, ge=1)

    groq_api_key: str = ""
    groq_base_url: str = "https://api.groq.com/openai/v1"
    google_client_id: str = ""

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kickflow.db').resolve()}"

    def allowed_root_paths(self) -> list[Path]:
        """Directories under which path sources may be read."""
        import os

        return [Path(p).resolve() for p in self.allowed_roots.split(os.pathsep) if p.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
