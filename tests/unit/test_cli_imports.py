"""Start-up: what the CLI imports before a command needs it (timing: benchmarks/bench_startup.py).

Each probe runs in a fresh interpreter (``sys.executable``) so that ``sys.modules`` is clean.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from kickflow.cli import defaults

# Heavy packages no command's --help (nor the probe child) needs.
HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "boto3", "botocore",
         "jinja2", "pydantic", "av", "rich.console", "kickflow.jobs", "kickflow.engine",
         "kickflow.config", "kickflow.api")  # fmt: skip


def _loaded_after(code: str) -> set[str]:
    """The HEAVY modules present in sys.modules after ``code`` ran in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    return {name for name in HEAVY if name in modules}


def test_every_command_registers_without_heavy_imports() -> None:
    code = "from kickflow.cli import main\nmain._register()\nmain.typer.main.get_command(main.app)"
    assert _loaded_after(code) == set()


def test_help_imports_nothing_heavy_but_typers_rich_help() -> None:
    code = (
        "import sys\nfrom kickflow.cli import main\nsys.argv = ['kickflow', '--help']\n"
        "try:\n    main.run()\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) <= {"rich.console"}  # typer formats its help with rich


def test_the_import_check_can_fail() -> None:
    """The probe above sees an import when there is one (so its empty answers mean something)."""
    assert _loaded_after("import kickflow.engine") >= {"kickflow.engine", "kickflow.config"}


def test_probe_child_does_not_import_the_settings() -> None:
    """The probe child runs before every decode: pydantic-settings would double its start-up."""
    loaded = _loaded_after("import kickflow.media.probe_child, kickflow.media.probe")
    assert loaded == {"av"}


@pytest.mark.parametrize(
    ("shown", "real"),
    [("LOCAL_ORG", "LOCAL_ORG"), ("DEFAULT_PROFILE", "DEFAULT_PROFILE")],
)
def test_cli_defaults_equal_the_stores(shown: str, real: str) -> None:
    import kickflow.jobs

    assert getattr(defaults, shown) == getattr(kickflow.jobs, real)


ORDER = """
import sys
events = []
def hook(event, args):
    if event == "subprocess.Popen" and "kickflow.media.probe_child" in list(args[1]):
        events.append("probe child")
    elif event == "import" and args[0] in ("typer", "pydantic"):
        events.append(args[0])
sys.addaudithook(hook)
sys.argv = ["kickflow", *sys.argv[1:]]
import atexit
atexit.register(lambda: print(events))  # a check ends by exit_now, which runs these
from kickflow.cli.entry import run
try:
    run()
except SystemExit:
    pass
"""


@pytest.mark.parametrize(
    ("argv", "first"),
    [
        (["check", "missing.mp4"], ["probe child", "typer"]),
        (["check", "--help"], ["typer"]),
        (["jobs", "--help"], ["typer"]),
    ],
)
def test_a_check_starts_its_probe_child_before_the_clis_imports(
    argv: list[str], first: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ORDER, *argv], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == (2 if argv[1:] == ["missing.mp4"] else 0)  # no such file
    events = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert events[: len(first)] == first
    assert events.count("probe child") == (argv[1] != "--help")


EXIT_NOW = """
import atexit, sys
from kickflow.cli.entry import exit_now
atexit.register(lambda: print("exit handler ran"))
sys.stdout.write("report, still buffered")
exit_now(3)
"""


def test_exit_now_runs_the_exit_handlers_and_flushes_before_ending() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXIT_NOW], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stdout == "report, still bufferedexit handler ran\n"
