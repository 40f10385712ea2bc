"""``kickflow jobs …``: submit and manage QC jobs on the configured database (no service
needed). Jobs belong to the local organisation unless ``--org`` says otherwise."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kickflow.cli.defaults import DEFAULT_PROFILE, LOCAL_ORG
from kickflow.errors import SourceNotAllowed

if TYPE_CHECKING:  # the store is imported by the commands that open it
    from kickflow.jobs import BulkResult, Job, JobStore, NewJob, Sidecar
    from kickflow.storage import Storage, StoredUpload

jobs_app = typer.Typer(help="Submit and manage QC jobs.", no_args_is_help=True)

OrgOpt = Annotated[str, typer.Option("--org", help="Organisation name.", envvar="KICKFLOW_ORG")]
EXIT_NOT_COMPLETED = 1
EXIT_TIMEOUT = 3


def _open(org: str) -> tuple[JobStore, str]:
    from kickflow.config import get_settings
    from kickflow.jobs import SqlJobStore

    store = SqlJobStore(settings=get_settings())
    return store, store.ensure_org(org)


def when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


COPY_CHUNK = 1024 * 1024


def _copy_into_storage(path: Path, org_id: str, storage: Storage) -> StoredUpload:
    """A copy of ``path`` in the upload storage (local or object storage), streamed."""
    with storage.batch(org_id, max_files=1) as batch, path.open("rb") as src:
        batch.start_file(path.name)
        for chunk in iter(lambda: src.read(COPY_CHUNK), b""):
            batch.write(chunk)
        (stored,) = batch.commit()
    return stored


@jobs_app.command()
def submit(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH…", exists=True, dir_okay=False)],
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Profile name or TOML file.")
    ] = DEFAULT_PROFILE,
    priority: Annotated[
        int, typer.Option("--priority", help="Higher runs first among the organisation's jobs.")
    ] = 0,
    project: Annotated[str | None, typer.Option("--project")] = None,
    org: OrgOpt = LOCAL_ORG,
    subtitles: Annotated[
        list[Path] | None,
        typer.Option(
            "--subtitles",
            "-s",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="A subtitle file delivered with the media (repeatable); with several PATHs "
            "each goes with the one its name starts with (EP01.mov takes EP01.en.srt).",
        ),
    ] = None,
    timecode_start: Annotated[
        str | None,
        typer.Option(
            "--timecode-start",
            metavar="TC",
            help="Source timecode of the first frame, HH:MM:SS:FF (;FF = drop-frame).",
        ),
    ] = None,
) -> None:
    """Queue one job per file and print the new job ids (all of them, or none)."""
    from kickflow.config import get_settings
    from kickflow.jobs import JobInputs, sidecars
    from kickflow.media.timecode import parse_timecode_text
    from kickflow.profiles import load_profile
    from kickflow.storage import open_storage

    if timecode_start:
        parse_timecode_text(timecode_start)
    settings = get_settings()
    subs = subtitles or []
    paired = sidecars.pair([p.name for p in paths], [s.name for s in subs], settings)
    for sub in subs:  # refused now, before a job or a copy exists
        sidecars.check_file(sub, sub.name, settings)
    load_profile(profile)  # an unknown profile is refused now, not by the worker later
    store, org_id = _open(org)
    store.ensure_queue_room(org_id, len(paths))  # refused before anything is copied
    storage = open_storage(settings)
    copies: list[str] = []
    try:
        options = {"profile": profile, "priority": priority, "project": project}

        def inputs(n: int) -> JobInputs:
            own = tuple(_sidecar(storage, org_id, subs[i], copies) for i in paired[n])
            return JobInputs(own, timecode_start or None)

        jobs = store.enqueue_many(
            [
                _new_job(store, storage, org_id, p, copies, options | {"inputs": inputs(n)})
                for n, p in enumerate(paths)
            ]
        )
    except BaseException:
        for ref in copies:  # a refused submission leaves no copy behind
            storage.remove(ref)
        raise
    for job in jobs:
        typer.echo(job.id)


def _new_job(
    store: JobStore,
    storage: Storage,
    org_id: str,
    path: Path,
    copies: list[str],
    options: dict[str, Any],
) -> NewJob:
    """The job for one file with ``options``: a path job when the file is under the allowed
    roots, else a copy in the upload storage (its reference is added to ``copies``)."""
    kind, ref, name, size = _placed(storage, org_id, path, copies)
    return store.new_job(org_id, kind, ref, file_name=name, file_size=size, **options)


def _sidecar(storage: Storage, org_id: str, path: Path, copies: list[str]) -> Sidecar:
    """A subtitle file for a job, placed as the media files are."""
    from kickflow.jobs import Sidecar

    return Sidecar(*_placed(storage, org_id, path, copies))


def _placed(
    storage: Storage, org_id: str, path: Path, copies: list[str]
) -> tuple[str, str, str, int | None]:
    """(source type, reference, name, size) of ``path`` for the workers: itself when it is
    under the allowed roots, else a copy in the upload storage (added to ``copies``)."""
    from kickflow.config import get_settings
    from kickflow.jobs import sources

    ref = str(path.resolve())
    try:
        info = sources.inspect("path", ref, get_settings())
        return "path", ref, info.file_name, info.size
    except SourceNotAllowed:
        pass  # a local user may read the file anyway: store a copy the workers can read
    stored = _copy_into_storage(path, org_id, storage)
    copies.append(stored.ref)
    typer.echo(f"{path}: copied into storage: not under KICKFLOW_ALLOWED_ROOTS", err=True)
    return "upload", stored.ref, stored.name, stored.size


def _row(job: Job) -> str:
    error = (job.error_message or "")[:60]
    return (
        f"{job.id}  {job.state.value:<9} {job.phase or '-':<12} {job.progress:5.1f}%  "
        f"{job.attempt}/{job.max_attempts}  {job.verdict or '-':<12} {job.file_name}  {error}"
    )


@jobs_app.command("list")
def list_(
    state: Annotated[str | None, typer.Option("--state", help="Only jobs in this state.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    org: OrgOpt = LOCAL_ORG,
) -> None:
    """List jobs, newest first."""
    store, org_id = _open(org)
    for job in store.list_jobs(org_id, state=state, limit=limit).jobs:
        typer.echo(_row(job))


@jobs_app.command()
def show(job_id: str, org: OrgOpt = LOCAL_ORG) -> None:
    """State, phase, progress, attempts, last error and history of one job."""
    store, org_id = _open(org)
    job = store.get(org_id, job_id)
    lines = [
        f"job       {job.id}",
        f"file      {job.file_name} ({job.source_type}: {job.source_ref})",
        f"profile   {job.profile}",
        f"state     {job.state.value}   phase {job.phase or '-'}   progress {job.progress:.1f}%",
        f"attempts  {job.attempt} of {job.max_attempts}   worker {job.worker_id or '-'}",
        f"verdict   {job.verdict or '-'}",
        f"error     {job.error_code or '-'}: {job.error_message or ''}",
        "history",
    ]
    for e in store.events(job.id, org_id):
        change = f"{e.from_state or ''}->{e.to_state or ''}"
        lines.append(
            f"  {when(e.at)}  {e.kind:<16} {change:<20} attempt {e.attempt}  "
            f"{e.worker_id or ''}  {e.message or ''}"
        )
    typer.echo("\n".join(lines))


@jobs_app.command()
def cancel(job_id: str, org: OrgOpt = LOCAL_ORG) -> None:
    """Cancel a job (a running one stops within one heartbeat)."""
    store, org_id = _open(org)
    job = store.cancel(org_id, job_id)
    pending = (
        " (cancel requested; the worker stops it within one heartbeat)" if not job.terminal else ""
    )
    typer.echo(f"{job.id} {job.state.value}{pending}")


@jobs_app.command()
def retry(job_id: str, org: OrgOpt = LOCAL_ORG) -> None:
    """Re-queue a failed, cancelled or completed job (attempts reset, history kept)."""
    store, org_id = _open(org)
    typer.echo(f"{job_id} {store.retry(org_id, job_id).state.value}")


def _bulk(result: BulkResult, verb: str) -> None:
    for job in result.done:
        typer.echo(f"{job.id} {verb}")
    for job_id, reason in result.refused.items():
        typer.echo(f"{job_id} refused: {reason}", err=True)
    if not result.done and not result.refused:
        typer.echo("no stuck jobs")


@jobs_app.command("cancel-stuck")
def cancel_stuck(org: OrgOpt = LOCAL_ORG) -> None:
    """End every stuck job (lease expired or no progress) as cancelled."""
    store, org_id = _open(org)
    _bulk(store.cancel_stuck(org_id), "cancelled")


@jobs_app.command("retry-stuck")
def retry_stuck(org: OrgOpt = LOCAL_ORG) -> None:
    """Re-queue every stuck job now."""
    store, org_id = _open(org)
    _bulk(store.retry_stuck(org_id), "re-queued")


@jobs_app.command()
def wait(
    job_id: str,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds; 0 = forever.")] = 0.0,
    org: OrgOpt = LOCAL_ORG,
) -> None:
    """Wait until the job ends: exit 0 if completed, 1 if failed or cancelled, 3 on timeout."""
    store, org_id = _open(org)
    deadline = time.monotonic() + timeout if timeout else None
    job = store.get(org_id, job_id)
    while not job.terminal:
        if deadline is not None and time.monotonic() >= deadline:
            typer.echo(f"{job.id} still {job.state.value} at {job.progress:.0f}%", err=True)
            raise typer.Exit(EXIT_TIMEOUT)
        time.sleep(min(1.0, store.settings.poll_seconds))
        job = store.get(org_id, job_id)
    verdict = f" verdict {job.verdict}" if job.verdict else ""
    error = f": {job.error_message}" if job.error_message and job.state.value != "completed" else ""
    typer.echo(f"{job.id} {job.state.value}{verdict}{error}")
    raise typer.Exit(0 if job.state.value == "completed" else EXIT_NOT_COMPLETED)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
