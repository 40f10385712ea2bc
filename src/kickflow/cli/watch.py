"""``kickflow watch DIR``: a hot folder. Each complete media file dropped in DIR becomes one
QC job (through the service's API with --server, else straight into the database as a path
source), and its result is moved or written beside it (:mod:`kickflow.watch`)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kickflow.cli.defaults import DEFAULT_PROFILE, LOCAL_ORG

if TYPE_CHECKING:
    from kickflow.watch import Submitter, WatchOptions

RESULT_MODES = ("move", "sidecar", "none")


def watch(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="The folder to watch (subfolders too).")
    ],
    profile: Annotated[
        str,
        typer.Option("--profile", "-p", envvar="KICKFLOW_WATCH_PROFILE", help="Profile name."),
    ] = DEFAULT_PROFILE,
    project: Annotated[
        str | None, typer.Option("--project", envvar="KICKFLOW_WATCH_PROJECT")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="KICKFLOW_SERVER_URL",
            help="Upload to this KickFlow service (else: queue in the database directly).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="KICKFLOW_TOKEN", help="API token for --server."),
    ] = None,
    results: Annotated[
        str,
        typer.Option(
            "--results",
            envvar="KICKFLOW_WATCH_RESULTS",
            help="move: into passed/, needs_review/, failed/; sidecar: <file>.kickflow.json; none.",
        ),
    ] = "move",
    settle_seconds: Annotated[
        float,
        typer.Option(
            "--settle-seconds",
            min=0,
            envvar="KICKFLOW_WATCH_SETTLE_SECONDS",
            help="A file is complete once its size and time are unchanged this long.",
        ),
    ] = 5.0,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.01,
            envvar="KICKFLOW_WATCH_INTERVAL_SECONDS",
            help="Seconds between two looks at the folder.",
        ),
    ] = 2.0,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Deal with what is in DIR now (until it is submitted and its jobs have "
            "ended), then exit.",
        ),
    ] = False,
    org: Annotated[
        str,
        typer.Option("--org", envvar="KICKFLOW_ORG", help="Organisation (without --server)."),
    ] = LOCAL_ORG,
) -> None:
    """Submit every new, complete file in DIR once; move or describe it when its job ends."""
    from kickflow.errors import WatchFolderUnusable
    from kickflow.watch import Watcher, WatchOptions, check_folder

    if results not in RESULT_MODES:
        raise WatchFolderUnusable(f"--results {results!r}: use move, sidecar or none")
    real = check_folder(folder)
    options = WatchOptions(real, profile, project or None, results, settle_seconds, interval)
    submitter = _api(server, token or "") if server else _store(options, org)
    watcher = Watcher(options, submitter, say=typer.echo)
    stop = threading.Event()
    previous = _stop_on_signals(stop)
    typer.echo(f"watching {real} (profile {profile}, results {results}); Ctrl-C stops")
    try:
        watcher.run(stop, once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("stopped" if stop.is_set() else "done")


def _api(server: str, token: str) -> Submitter:
    from kickflow.watch import ApiSubmitter

    return ApiSubmitter(server, token)


def _store(options: WatchOptions, org: str) -> Submitter:
    """The direct path: the folder must be under the allowed roots, the profile known."""
    from kickflow.config import get_settings
    from kickflow.jobs import SqlJobStore
    from kickflow.profiles import catalog
    from kickflow.watch import StoreSubmitter, check_under_roots

    settings = get_settings()
    check_under_roots(options.folder, settings)
    store = SqlJobStore(settings=settings)
    org_id = store.ensure_org(org)
    catalog.resolve_for_job(store, org_id, options.profile)  # an unknown profile: refused now
    return StoreSubmitter(store, org_id, settings)


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGINT and SIGTERM end the loop after the current poll (state saved), not mid-write;
    the handlers they replace, to put back (none off the main thread: Python forbids it)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
