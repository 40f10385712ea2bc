"""Path sources open a file once, walking from the allowed root with directory descriptors:
no symbolic link below the root, no '..', no FIFO, device or directory, nothing inside the
service's data directory — and a symbolic link swapped mid-call never leaks a file outside."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.errors import (
    InputError,
    InputNotAFile,
    InputNotFound,
    SourceNotAllowed,
    SymlinkRefused,
)
from kickflow.jobs import sources
from kickflow.jobs.sources import PathSource, UploadSource, Walk, open_below

ITERATIONS = 5000
TIME_BOUND_S = 120.0
GOOD = b"legitimate media bytes " * 40
SECRET = b"SECRET-outside-the-root " * 17  # another size, so even a leaked size shows


def _ignore(_done: int, _total: int | None) -> None:
    return None


@dataclass
class Tree:
    base: Path
    root: Path
    secret: Path
    settings: Settings

    def fetch(self, ref: str | Path) -> bytes:
        dest = self.base / "dest"
        dest.mkdir(exist_ok=True)
        out = PathSource().fetch(str(ref), dest, self.settings, _ignore)
        data = out.read_bytes()
        out.unlink()
        return data


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = tmp_path / "root"
    (root / "show").mkdir(parents=True)
    (root / "show" / "clip.mov").write_bytes(GOOD)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "clip.mov"
    secret.write_bytes(SECRET)
    settings = Settings(data_dir=tmp_path / "data", allowed_roots=str(root))
    return Tree(tmp_path, root, secret, settings)


def test_a_plain_file_is_copied_and_described(tree: Tree) -> None:
    ref = tree.root / "show" / "clip.mov"
    assert tree.fetch(ref) == GOOD
    info = PathSource().inspect(str(ref), tree.settings)
    assert (info.file_name, info.size) == ("clip.mov", len(GOOD))


# --- the race -------------------------------------------------------------------------------


class Swapper:
    """A thread that keeps changing what a name in the root is, until stopped."""

    def __init__(self, step: Callable[[], None]) -> None:
        self.step = step
        self.swaps = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.step()
                self.swaps += 1
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Swapper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()
        assert self.error is None, self.error


def _hammer(tree: Tree, ref: Path) -> Counter[str]:
    """Fetch and inspect ``ref`` ITERATIONS times; count what happened; never a leak."""
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + TIME_BOUND_S
    for _ in range(ITERATIONS):
        assert time.monotonic() < deadline, f"too slow: {dict(outcomes)}"
        try:
            data = tree.fetch(ref)
        except SymlinkRefused:
            outcomes["symlink_refused"] += 1
        except InputError as exc:
            assert str(tree.secret.parent) not in exc.message
            outcomes[type(exc).__name__] += 1
        else:
            assert data == GOOD, "a copy held other bytes than the legitimate file"
            outcomes["copied"] += 1
        try:
            size = PathSource().inspect(str(ref), tree.settings).size
        except InputError:
            outcomes["inspect_refused"] += 1
        else:
            assert size == len(GOOD)
            outcomes["inspected"] += 1
    return outcomes


def test_a_file_swapped_for_a_symlink_never_leaks(tree: Tree) -> None:
    """The final component flips atomically (os.replace) between a regular file in the root
    and a symbolic link to a secret file outside it."""
    target, master = tree.root / "show" / "clip.mov", tree.root / ".master.mov"
    os.link(target, master)
    spare_link, spare_file = tree.root / ".spare-link", tree.root / ".spare-file"

    def swap() -> None:
        spare_link.symlink_to(tree.secret)
        os.replace(spare_link, target)
        os.link(master, spare_file)
        os.replace(spare_file, target)

    with Swapper(swap) as swapper:
        outcomes = _hammer(tree, target)
    total = outcomes["copied"] + outcomes["symlink_refused"] + outcomes["InputNotFound"]
    assert total == ITERATIONS, outcomes
    assert swapper.swaps > 100, "the swapper hardly ran: the race was not exercised"
    assert outcomes["copied"] > 0 and outcomes["symlink_refused"] > 0, outcomes


def test_a_directory_swapped_for_a_symlink_never_leaks(tree: Tree) -> None:
    """A directory component is moved away and replaced by a link to a directory outside the
    root holding a file of the same name (each rename atomic; a directory cannot be renamed
    over a link, so the name is briefly absent)."""
    show, away, spare = tree.root / "show", tree.root / ".show-away", tree.root / ".spare-link"
    spare.symlink_to(tree.secret.parent, target_is_directory=True)

    def swap() -> None:
        show.rename(away)
        spare.rename(show)
        show.rename(spare)
        away.rename(show)

    with Swapper(swap) as swapper:
        outcomes = _hammer(tree, show / "clip.mov")
    assert swapper.swaps > 100, "the swapper hardly ran: the race was not exercised"
    assert outcomes["copied"] > 0, outcomes
    assert set(outcomes) <= {
        "copied", "symlink_refused", "InputNotFound", "inspected", "inspect_refused",
    }, outcomes  # fmt: skip


# --- what is refused ------------------------------------------------------------------------


def test_dot_dot_is_refused_even_when_it_stays_inside(tree: Tree) -> None:
    for ref in (
        f"{tree.root}/../outside/clip.mov",
        f"{tree.root}/show/../show/clip.mov",
    ):
        with pytest.raises(SourceNotAllowed) as err:
            tree.fetch(ref)
        assert "'..'" in err.value.message and ref in err.value.message


def test_symbolic_links_below_the_root_are_refused(tree: Tree) -> None:
    (tree.root / "linked-dir").symlink_to(tree.secret.parent, target_is_directory=True)
    (tree.root / "inner-dir").symlink_to(tree.root / "show", target_is_directory=True)
    (tree.root / "file-link.mov").symlink_to(tree.secret)
    (tree.root / "show" / "inner-link.mov").symlink_to(tree.root / "show" / "clip.mov")
    for name in ("linked-dir/clip.mov", "inner-dir/clip.mov", "file-link.mov"):
        ref = f"{tree.root}/{name}"
        for call in (tree.fetch, lambda r: PathSource().inspect(r, tree.settings)):
            with pytest.raises(SymlinkRefused) as err:
                call(ref)
            assert err.value.message == (
                f"{ref}: refused, the path goes through a symbolic link; "
                "submit the file's real path"
            )
            assert str(tree.secret.parent) not in err.value.message
    with pytest.raises(SymlinkRefused):
        tree.fetch(tree.root / "show" / "inner-link.mov")


def test_a_root_that_is_a_symlink_is_followed_once(tree: Tree) -> None:
    """The operator's root may itself be a link: both spellings work, and messages keep the
    spelling the caller used."""
    alias = tree.base / "media-alias"
    alias.symlink_to(tree.root, target_is_directory=True)
    settings = Settings(data_dir=tree.base / "data", allowed_roots=str(alias))
    for ref in (alias / "show" / "clip.mov", tree.root / "show" / "clip.mov"):
        info = PathSource().inspect(str(ref), settings)
        assert (info.file_name, info.size) == ("clip.mov", len(GOOD))
    with pytest.raises(InputNotFound) as err:
        PathSource().inspect(f"{alias}/show/missing.mov", settings)
    assert err.value.message == f"file not found: {alias}/show/missing.mov"


def _returns_within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread; fail if it has not returned after ``seconds``."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), "the call hung"
    return raised[0] if raised else None


def test_fifos_devices_and_directories_are_refused_without_hanging(tree: Tree) -> None:
    fifo = tree.root / "show" / "pipe.mov"
    os.mkfifo(fifo)
    dev = Settings(data_dir=tree.base / "data", allowed_roots="/dev")
    cases: list[tuple[str, Settings]] = [
        (str(fifo), tree.settings),
        (str(tree.root / "show"), tree.settings),
        (str(tree.root), tree.settings),
        ("/dev/zero", dev),
        ("/dev/null", dev),
    ]
    dest = tree.base / "dest"
    dest.mkdir()
    for ref, settings in cases:
        for call in (
            lambda: PathSource().inspect(ref, settings),  # noqa: B023 - called at once
            lambda: PathSource().fetch(ref, dest, settings, _ignore),  # noqa: B023
        ):
            exc = _returns_within(10, call)
            assert isinstance(exc, InputNotAFile), (ref, exc)
            assert exc.message == f"not a regular file: {ref}"
    assert list(dest.iterdir()) == []


def test_paths_outside_or_relative_are_refused_without_naming_the_roots(tree: Tree) -> None:
    for ref in (str(tree.secret), "/etc/passwd", "relative.mov", "show/clip.mov"):
        with pytest.raises(SourceNotAllowed) as err:
            tree.fetch(ref)
        assert "outside the allowed roots" in err.value.message
        assert str(tree.root) not in err.value.message


def test_missing_files_and_components_are_not_found(tree: Tree) -> None:
    for ref in ("show/missing.mov", "nowhere/clip.mov", "show/clip.mov/deeper.mov"):
        with pytest.raises(InputNotFound) as err:
            tree.fetch(f"{tree.root}/{ref}")
        assert err.value.message == f"file not found: {tree.root}/{ref}"


def test_a_file_inside_the_data_directory_is_refused(tmp_path: Path) -> None:
    """Defence in depth: even with the start-up check bypassed (data dir inside the root, or
    the root inside the data dir), the service's own storage is not a path source."""
    upload = tmp_path / "data" / "uploads" / "org-b" / "x" / "secret.mov"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(SECRET)
    for root in (tmp_path, tmp_path / "data" / "uploads"):
        settings = Settings(data_dir=tmp_path / "data", allowed_roots=str(root))
        for call in (
            lambda: PathSource().inspect(str(upload), settings),  # noqa: B023
            lambda: PathSource().fetch(str(upload), tmp_path, settings, _ignore),  # noqa: B023
        ):
            with pytest.raises(SourceNotAllowed) as err:
                call()
            assert "own storage" in err.value.message


def test_the_data_directory_is_recognised_by_identity(tree: Tree) -> None:
    """A walk through a directory that *is* the data directory (say, a bind mount of it under
    the root) is refused even when the path does not look like it."""
    show = os.stat(tree.root / "show")
    walk = Walk(tree.root, ("show", "clip.mov"), "x", frozenset({(show.st_dev, show.st_ino)}))
    with pytest.raises(SourceNotAllowed):
        open_below(walk)


def test_no_descriptor_is_left_open(tree: Tree) -> None:
    (tree.root / "file-link.mov").symlink_to(tree.secret)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        tree.fetch(tree.root / "show" / "clip.mov")
        for bad in ("file-link.mov", "show/missing.mov", "show", "show/clip.mov/x"):
            with pytest.raises(InputError):
                tree.fetch(f"{tree.root}/{bad}")
    assert len(os.listdir("/proc/self/fd")) <= before + 2


# --- uploads use the same walk --------------------------------------------------------------


@pytest.fixture
def upload_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "data")
    stored = sources.uploads_dir(settings) / "org" / "abc" / "clip.mov"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(GOOD)
    yield settings


def test_uploads_are_copied_from_one_descriptor(upload_settings: Settings, tmp_path: Path) -> None:
    out = UploadSource().fetch("org/abc/clip.mov", tmp_path, upload_settings, _ignore)
    assert out.read_bytes() == GOOD
    with pytest.raises(InputNotFound) as err:
        UploadSource().inspect("org/abc/missing.mov", upload_settings)
    assert err.value.message == "file not found: upload org/abc/missing.mov"
    for bad in ("../x", "/etc/passwd", "org/../../kickflow.db"):
        with pytest.raises(SourceNotAllowed):
            UploadSource().inspect(bad, upload_settings)
