"""Watch folders: every media file that lands in a folder becomes one QC job, once.

A vendor's upload tool, an rsync or a NAS share writes files slowly and in place, so a file is
only taken once it is complete: its size and modification time unchanged for
``settle_seconds`` across polls, and no process holding a lock on it (an ``flock``/``lockf``
probe; a full ``/proc/*/fd`` scan would cost too much on big trees). Hidden files,
partial-download names and files that are neither media nor subtitles are ignored. A subtitle
file whose name starts with a media file's stem (``EP01.mov`` + ``EP01.en.srt``) goes with it
as a sidecar and is never submitted alone; the media waits for its subtitle files to settle.

Never twice: the idempotency key is a hash of the file's path relative to the folder, its size
and its modification time, and the store (or the API) answers a second submission with the
first job. A small state file in the folder (``.kickflow-watch.json``, written atomically)
keeps a restart from posting again at all, and remembers the jobs still being waited for.

When a job ends, the file (and its subtitle files) is moved into ``passed/``,
``needs_review/`` or ``failed/`` (never over an existing file), or described in
``<file>.kickflow.json``, or left alone, as configured. Those folders are never watched.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from kickflow.errors import (
    InputError,
    JobNotFound,
    KickflowError,
    ServiceUnreachable,
    WatchFolderNotAllowed,
    WatchFolderUnusable,
    WatchSubmissionRefused,
    WatchTokenRefused,
)
from kickflow.jobs.sidecars import MEDIA_SUFFIXES, STEM_SEPARATORS, SUBTITLE_SUFFIXES

if TYPE_CHECKING:
    from kickflow.config import Settings
    from kickflow.jobs import Job, JobStore, Sidecar

STATE_FILE = ".kickflow-watch.json"
RESULT_FOLDERS = {"passed": "passed", "needs_review": "needs_review", "failed": "failed"}
RESULT_MODES = ("move", "sidecar", "none")
OUTCOME_SUFFIX = ".kickflow.json"
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")
PARTIAL_PREFIXES = ("~$",)
log = logging.getLogger("kickflow.watch")
Say = Callable[[str], None]


@dataclass(frozen=True)
class WatchOptions:
    """What one watched folder submits and what its finished jobs leave behind."""

    folder: Path
    profile: str = "default"
    project: str | None = None
    results: str = "move"
    settle_seconds: float = 5.0
    interval: float = 2.0


@dataclass(frozen=True)
class Seen:
    """One file as a scan saw it: its path relative to the folder (POSIX), size and time."""

    rel: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Delivery:
    """A complete media file and the complete subtitle files beside it."""

    media: Seen
    subtitles: tuple[Seen, ...] = ()

    @property
    def key(self) -> str:
        """The idempotency key: the same file, unchanged, is the same job."""
        return idempotency_key(self.media)


@dataclass(frozen=True)
class Outcome:
    """How a submitted file ended (``state`` "refused": it was never queued)."""

    job_id: str | None
    state: str
    verdict: str | None = None
    error: str | None = None
    findings: int | None = None
    report_url: str | None = None

    @property
    def folder(self) -> str:
        """The result folder the file goes to."""
        if self.state == "completed" and self.verdict in ("passed", "needs_review"):
            return RESULT_FOLDERS[self.verdict]
        return RESULT_FOLDERS["failed"]


class Submitter(Protocol):
    """Where the jobs go: straight into the store, or to the service's API."""

    def submit(self, folder: Path, delivery: Delivery, options: WatchOptions) -> str:
        """Queue the delivery and return the job id; InputError when it is refused, any other
        KickflowError when it may work on a later try."""
        ...

    def outcome(self, job_id: str) -> Outcome | None:
        """The job's outcome once it has ended, else None."""
        ...


# --- what a file is -------------------------------------------------------------------------


def idempotency_key(seen: Seen) -> str:
    text = f"{seen.rel}\0{seen.size}\0{seen.mtime_ns}"
    return "watch-" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def kind_of(name: str) -> str | None:
    """ "media", "subtitle", or None for a name that is never submitted (hidden, partial
    downloads, our own files, anything else)."""
    lowered = name.casefold()
    if name.startswith(".") or name.startswith(PARTIAL_PREFIXES):
        return None
    if lowered.endswith(PARTIAL_SUFFIXES) or lowered.endswith(OUTCOME_SUFFIX):
        return None
    suffix = PurePosixPath(lowered).suffix
    if suffix in MEDIA_SUFFIXES:
        return "media"
    return "subtitle" if suffix in SUBTITLE_SUFFIXES else None


def _stem(rel: str) -> str:
    return PurePosixPath(rel).stem.casefold()


def owner_of(subtitle: str, media: list[str]) -> str | None:
    """The media file (same directory) whose stem starts the subtitle's name; the longest
    wins (``EP01_v2.mov`` takes ``EP01_v2.en.srt``, not ``EP01.mov``)."""
    parent, own = PurePosixPath(subtitle).parent, _stem(subtitle)
    best: tuple[int, str] | None = None
    for rel in media:
        stem = _stem(rel)
        fits = own == stem or (own.startswith(stem) and own[len(stem)] in STEM_SEPARATORS)
        if PurePosixPath(rel).parent == parent and fits and (best is None or len(stem) > best[0]):
            best = (len(stem), rel)
    return best[1] if best else None


def deliveries(seen: dict[str, Seen], settled: set[str]) -> list[Delivery]:
    """The settled media files whose subtitle files (all that are there) are settled too."""
    media = sorted(rel for rel in seen if kind_of(PurePosixPath(rel).name) == "media")
    subs: dict[str, list[Seen]] = {rel: [] for rel in media}
    for rel, item in sorted(seen.items()):
        if kind_of(PurePosixPath(rel).name) == "subtitle":
            owner = owner_of(rel, media)
            if owner is not None:
                subs[owner].append(item)
    return [
        Delivery(seen[rel], tuple(subs[rel]))
        for rel in media
        if rel in settled and all(s.rel in settled for s in subs[rel])
    ]


# --- scanning and settling ------------------------------------------------------------------


def check_folder(folder: Path) -> Path:
    """The folder's real path; WatchFolderUnusable with the reason when it cannot be used."""
    if not folder.exists():
        raise WatchFolderUnusable(f"watch folder {folder} does not exist")
    if not folder.is_dir():
        raise WatchFolderUnusable(f"watch folder {folder} is not a directory")
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise WatchFolderUnusable(
            f"watch folder {folder} cannot be read and written by this user: results and "
            f"the {STATE_FILE} state file are kept there"
        )
    return folder.resolve()


def check_under_roots(folder: Path, settings: Settings) -> None:
    """WatchFolderNotAllowed unless the folder is under an allowed root (path sources)."""
    for root in settings.allowed_root_paths():
        if folder == root or root in folder.parents:
            return
    raise WatchFolderNotAllowed(
        f"watch folder {folder} is outside KICKFLOW_ALLOWED_ROOTS, so workers may not read "
        "its files: add it there, or give --server and --token to upload them to the service"
    )


def scan(folder: Path) -> dict[str, Seen]:
    """Every candidate file below ``folder`` (real files only: no links, no hidden
    directories, not the result folders)."""
    found: dict[str, Seen] = {}
    for rel, entry in _entries(folder, ""):
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone since the listing
        found[rel] = Seen(rel, st.st_size, st.st_mtime_ns)
    return found


def _entries(folder: Path, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    try:
        listing = list(os.scandir(folder))
    except OSError:
        return
    for entry in listing:
        rel = f"{prefix}{entry.name}"
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            if not (prefix == "" and entry.name in RESULT_FOLDERS.values()):
                yield from _entries(Path(entry.path), f"{rel}/")
        elif entry.is_file(follow_symlinks=False) and kind_of(entry.name):
            yield rel, entry


def held_by_writer(path: Path) -> bool:
    """Whether another process holds a lock on the file (a writer that locks); files on
    filesystems without locks count as free: size stability alone decides there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return True  # unreadable right now: not ready
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)
    finally:
        os.close(fd)  # releases our probe locks too


class Settle:
    """Which files have kept the same size and time for ``seconds``, across polls."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._since: dict[str, tuple[Seen, float]] = {}

    def observe(self, seen: dict[str, Seen]) -> set[str]:
        """Record this scan; the paths unchanged since at least ``seconds`` ago."""
        now, settled = self.clock(), set()
        for rel, item in seen.items():
            before = self._since.get(rel)
            if before is None or before[0] != item:
                self._since[rel] = (item, now)
            elif now - before[1] >= self.seconds:
                settled.add(rel)
        for gone in set(self._since) - set(seen):
            del self._since[gone]
        return settled

    def waiting(self, seen: dict[str, Seen], settled: set[str]) -> bool:
        return any(rel not in settled for rel in seen)


# --- the state file -------------------------------------------------------------------------


@dataclass
class Entry:
    """A submitted file: its key and job, the subtitle files sent with it, and whether its
    result has been dealt with (``done``)."""

    key: str
    job_id: str | None
    size: int
    mtime_ns: int
    subtitles: list[str] = field(default_factory=list)
    done: bool = False


class WatchState:
    """``.kickflow-watch.json``: the files submitted from this folder, by relative path."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_FILE
        self.entries: dict[str, Entry] = {}

    def load(self) -> WatchState:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            self.entries = {rel: Entry(**e) for rel, e in data.get("files", {}).items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError) as exc:  # the key still prevents doubles
            log.warning("watch state %s unreadable, starting afresh: %s", STATE_FILE, exc)
        return self

    def save(self) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half."""
        data = {"version": 1, "files": {rel: asdict(e) for rel, e in self.entries.items()}}
        tmp = self.path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), "utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            reason = os.strerror(exc.errno or errno.EIO).lower()
            raise WatchFolderUnusable(
                f"cannot write {STATE_FILE} in the watch folder ({reason})"
            ) from None

    def handled(self, seen: Seen) -> bool:
        """Whether this version of the file (or a subtitle sent with it) was submitted."""
        entry = self.entries.get(seen.rel)
        if entry is not None and (entry.size, entry.mtime_ns) == (seen.size, seen.mtime_ns):
            return True
        return any(seen.rel in e.subtitles for e in self.entries.values())

    def waiting(self) -> dict[str, Entry]:
        return {rel: e for rel, e in self.entries.items() if not e.done and e.job_id}

    def forget_gone(self, found: dict[str, Seen]) -> bool:
        """Drop the finished files that are no longer there (taken away after their result);
        whether any was dropped."""
        gone = [rel for rel, e in self.entries.items() if e.done and rel not in found]
        for rel in gone:
            del self.entries[rel]
        return bool(gone)


# --- results --------------------------------------------------------------------------------


def free_name(target_dir: Path, rels: list[str], media: str) -> list[Path]:
    """Destinations in ``target_dir`` for the files of one delivery, keeping their relative
    folders; when any is taken all get the same " (n)" after the media file's stem (so the
    subtitle files still pair with it)."""
    stem = PurePosixPath(media).stem
    n = 0
    while True:
        tag = "" if n == 0 else f" ({n})"
        paths = [target_dir / _renamed(rel, stem, tag) for rel in rels]
        if not any(p.exists() or p.is_symlink() for p in paths):
            return paths
        n += 1


def _renamed(rel: str, stem: str, tag: str) -> str:
    path = PurePosixPath(rel)
    name = path.name
    if tag and name.casefold().startswith(stem.casefold()):
        name = f"{name[: len(stem)]}{tag}{name[len(stem) :]}"
    return str(path.with_name(name))


def outcome_json(rel: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "file": PurePosixPath(rel).name,
        "jobId": outcome.job_id,
        "state": outcome.state,
        "verdict": outcome.verdict,
        "error": outcome.error,
        "findings": outcome.findings,
        "reportUrl": outcome.report_url,
    }


def apply_result(folder: Path, rel: str, entry: Entry, outcome: Outcome, mode: str) -> str:
    """Move or describe a finished file as ``mode`` says; what was done, for the log."""
    if mode == "sidecar":
        target = folder / f"{rel}{OUTCOME_SUFFIX}"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(outcome_json(rel, outcome), indent=2) + "\n", "utf-8")
        os.replace(tmp, target)
        return f"wrote {rel}{OUTCOME_SUFFIX}"
    if mode != "move":
        return "left in place"
    rels = [rel, *entry.subtitles]
    targets = free_name(folder / outcome.folder, rels, rel)
    for source, target in zip(rels, targets, strict=True):
        if (folder / source).exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(folder / source, target)
    return f"moved into {outcome.folder}/"


# --- the watcher ----------------------------------------------------------------------------


class Watcher:
    """One folder: each ``poll`` scans, submits the complete files, and deals with the
    results of the jobs that have ended."""

    def __init__(
        self,
        options: WatchOptions,
        submitter: Submitter,
        say: Say = log.info,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options, self.submitter, self.say = options, submitter, say
        self.folder = options.folder
        self.settle = Settle(options.settle_seconds, clock)
        self.state = WatchState(self.folder).load()
        self._settling = False

    def poll(self) -> None:
        found = scan(self.folder)
        changed = self.state.forget_gone(found)
        seen = {rel: s for rel, s in found.items() if not self.state.handled(s)}
        settled = {rel for rel in self.settle.observe(seen) if not held_by_writer(self._at(rel))}
        self._settling = self.settle.waiting(seen, settled)
        for delivery in deliveries(seen, settled):
            changed |= self._submit(delivery)
        for rel, entry in self.state.waiting().items():
            changed |= self._collect(rel, entry)
        if changed:
            self.state.save()

    def idle(self) -> bool:
        """Nothing settling and no job waited for (``--once`` stops here)."""
        return not self._settling and not self.state.waiting()

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Poll every ``interval`` until ``stop`` is set (or, ``once``, until idle)."""
        while not stop.is_set():
            self.poll()
            if once and self.idle():
                return
            stop.wait(self.options.interval)

    def _at(self, rel: str) -> Path:
        return self.folder / rel

    def _submit(self, delivery: Delivery) -> bool:
        media, subs = delivery.media, [s.rel for s in delivery.subtitles]
        entry = Entry(delivery.key, None, media.size, media.mtime_ns, subs)
        try:
            entry.job_id = self.submitter.submit(self.folder, delivery, self.options)
        except WatchTokenRefused:
            raise  # no file can go through: the watcher stops with the sentence
        except InputError as exc:
            self.state.entries[media.rel] = entry
            self._finish(media.rel, entry, Outcome(None, "refused", error=exc.message))
            return True
        except KickflowError as exc:  # the service or database is away: next poll
            log.warning("watch: %s not submitted yet: %s", media.rel, exc)
            return False
        self.state.entries[media.rel] = entry
        with_subs = f" with {', '.join(subs)}" if subs else ""
        self.say(f"{media.rel}{with_subs}: submitted as job {entry.job_id}")
        return True

    def _collect(self, rel: str, entry: Entry) -> bool:
        assert entry.job_id is not None
        try:
            outcome = self.submitter.outcome(entry.job_id)
        except WatchTokenRefused:
            raise
        except (InputError, JobNotFound) as exc:  # the job was deleted: nothing to wait for
            outcome = Outcome(entry.job_id, "deleted", error=str(exc))
        except KickflowError as exc:
            log.warning("watch: cannot read job %s yet: %s", entry.job_id, exc)
            return False
        if outcome is None:
            return False
        self._finish(rel, entry, outcome)
        return True

    def _finish(self, rel: str, entry: Entry, outcome: Outcome) -> None:
        try:
            done = apply_result(self.folder, rel, entry, outcome, self.options.results)
        except OSError as exc:
            done = f"result not recorded ({os.strerror(exc.errno or errno.EIO).lower()})"
        entry.done = True
        if self.options.results == "move":
            del self.state.entries[rel]  # the file has gone; a new one by that name is new
        what = outcome.verdict or outcome.state
        reason = f" ({outcome.error})" if outcome.error and outcome.state != "completed" else ""
        self.say(f"{rel}: {what}{reason}; {done}")


# --- submitting straight into the store -----------------------------------------------------


class StoreSubmitter:
    """Jobs queued in the database as ``path`` sources (the folder is under the allowed
    roots, so the workers read the files where they are)."""

    def __init__(self, store: JobStore, org_id: str, settings: Settings) -> None:
        self.store, self.org_id, self.settings = store, org_id, settings

    def submit(self, folder: Path, delivery: Delivery, options: WatchOptions) -> str:
        from kickflow.jobs import JobInputs, sidecars, sources
        from kickflow.profiles import catalog

        ref = str(folder / delivery.media.rel)
        info = sources.inspect("path", ref, self.settings)
        sidecars.check_count(len(delivery.subtitles), self.settings, info.file_name)
        subs = tuple(self._sidecar(folder / s.rel) for s in delivery.subtitles)
        profile, profile_source = catalog.resolve_for_job(self.store, self.org_id, options.profile)
        job = self.store.enqueue(
            self.org_id,
            "path",
            ref,
            file_name=info.file_name,
            file_size=info.size,
            profile=profile,
            profile_source=profile_source,
            project=options.project,
            idempotency_key=delivery.key,
            inputs=JobInputs(subs),
        )
        return job.id

    def _sidecar(self, path: Path) -> Sidecar:
        from kickflow.jobs import Sidecar, sidecars, sources

        info = sources.inspect("path", str(path), self.settings)
        sidecars.check_file(path, info.file_name, self.settings)
        return Sidecar("path", str(path), info.file_name, info.size)

    def outcome(self, job_id: str) -> Outcome | None:
        job = self.store.get(self.org_id, job_id)
        if not job.terminal:
            return None
        base = self.settings.resolved_public_url()
        return job_outcome(job, f"{base}/jobs/{job.id}")


def job_outcome(job: Job, report_url: str) -> Outcome:
    findings = job.report.get("findings") if job.report else None
    return Outcome(
        job.id,
        job.state.value,
        job.verdict,
        job.error_message,
        len(findings) if isinstance(findings, list) else None,
        report_url,
    )


# --- submitting through the service's API --------------------------------------------------

JOBS_PATH = "/api/qc/jobs"
TERMINAL_STATES = frozenset({"completed", "failed", "cancelled"})


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        error = body.get("error", {}) if isinstance(body, dict) else {}
        return str(error.get("message") or "") or f"HTTP {response.status_code}"
    except ValueError:
        return f"HTTP {response.status_code}"


class ApiSubmitter:
    """Jobs posted to a KickFlow service: each file uploaded (multipart, streamed from disk,
    with its subtitle files), then polled by id. The token is sent, never logged."""

    def __init__(
        self, server_url: str, token: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not server_url.startswith(("http://", "https://")):
            raise WatchSubmissionRefused(
                f"--server {server_url!r} is not an http(s) URL (e.g. http://qc.example:8000)"
            )
        if not token:
            raise WatchTokenRefused(
                "no API token: pass --token or set KICKFLOW_TOKEN (make one with "
                "`kickflow admin create-token --org local --role member`)"
            )
        self.base = server_url.rstrip("/")
        timeout = httpx.Timeout(connect=10.0, read=300.0, write=300.0, pool=10.0)
        self._client = httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def submit(self, folder: Path, delivery: Delivery, options: WatchOptions) -> str:
        data = {"profile": options.profile, "idempotencyKey": delivery.key}
        if options.project:
            data["project"] = options.project
        handles = []
        try:
            files = []
            for field_name, seen in [
                ("file", delivery.media),
                *(("subtitles", s) for s in delivery.subtitles),
            ]:
                handle = (folder / seen.rel).open("rb")
                handles.append(handle)
                name = PurePosixPath(seen.rel).name
                files.append((field_name, (name, handle, "application/octet-stream")))
            response = self._send("POST", JOBS_PATH, data=data, files=files)
        finally:
            for handle in handles:
                handle.close()
        return str(response.json()["id"])

    def outcome(self, job_id: str) -> Outcome | None:
        body = self._send("GET", f"{JOBS_PATH}/{job_id}").json()
        if body.get("state") not in TERMINAL_STATES:
            return None
        findings = None
        if body["state"] == "completed":
            report = self._send("GET", f"{JOBS_PATH}/{job_id}/report").json()
            found = report.get("findings") if isinstance(report, dict) else None
            findings = len(found) if isinstance(found, list) else None
        error = (body.get("lastError") or {}).get("message")
        return Outcome(
            job_id,
            body["state"],
            body.get("verdict"),
            error,
            findings,
            f"{self.base}/jobs/{job_id}",
        )

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The answer when it is a success; the watcher's error classes otherwise."""
        try:
            response = self._client.request(method, path, **kw)
        except httpx.HTTPError:
            raise ServiceUnreachable(f"cannot reach the service at {self.base}") from None
        code = response.status_code
        if code < 400:
            return response
        if code in (401, 403):
            raise WatchTokenRefused(f"the service refused the token: {_error_message(response)}")
        if code in (408, 429) or code >= 500:
            raise ServiceUnreachable(
                f"the service at {self.base} answered HTTP {code}; trying again later"
            )
        raise WatchSubmissionRefused(_error_message(response))


# --- the service's watchers -----------------------------------------------------------------


def service_options(settings: Settings) -> list[WatchOptions]:
    """The folders of ``KICKFLOW_WATCH_DIRS`` with the watch settings."""
    return [
        WatchOptions(
            Path(raw),
            settings.watch_profile,
            settings.watch_project or None,
            settings.watch_results,
            settings.watch_settle_seconds,
            settings.watch_interval_seconds,
        )
        for raw in settings.watch_dirs.split(os.pathsep)
        if raw.strip()
    ]


class ServiceWatch:
    """``kickflow serve``'s watchers: one daemon thread per folder, jobs of the local
    organisation; a folder that cannot be used, or a failing poll, is logged, not fatal."""

    def __init__(self, store: JobStore, options: list[WatchOptions]) -> None:
        self.store, self.options = store, options
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> ServiceWatch:
        for options in self.options:
            thread = threading.Thread(
                target=self._run, args=(options,), name="kickflow-watch", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self, options: WatchOptions) -> None:
        from dataclasses import replace

        from kickflow.jobs import LOCAL_ORG

        try:
            folder = check_folder(options.folder)
            check_under_roots(folder, self.store.settings)
            org_id = self.store.ensure_org(LOCAL_ORG)
            submitter = StoreSubmitter(self.store, org_id, self.store.settings)
            watcher = Watcher(replace(options, folder=folder), submitter)
        except KickflowError as exc:
            log.error("watch folder not watched: %s", exc)
            return
        log.info("watching %s", folder)
        while not self._stop.is_set():
            try:
                watcher.poll()
            except Exception:
                log.exception("watch folder %s: poll failed", folder)
            self._stop.wait(options.interval)


def service_watch(store: JobStore) -> ServiceWatch | None:
    """The service's watchers when ``KICKFLOW_WATCH_DIRS`` is set, else None."""
    options = service_options(store.settings)
    return ServiceWatch(store, options) if options else None
