"""deploy/ stays true to the code: every ``KICKFLOW_*`` name is a real setting, every
``kickflow …`` command line parses with the real CLI, the compose file's references resolve,
and the multi-machine layout keeps its promise — a worker machine holds a worker token and no
database URL or object-storage key.

Nothing here runs docker, nginx or systemd: the files are parsed (YAML with pyyaml, systemd
units and env files line by line) and their command lines are parsed by the CLI's own click
commands, with the environment the file gives them, without running anything.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from kickflow.cli import main
from kickflow.config import Settings
from kickflow.jobs.sources import check_data_dir_outside_roots

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
NGINX = DEPLOY / "compose" / "nginx.conf"
DOCKERFILE = DEPLOY / "compose" / "Dockerfile"
API_UNIT = DEPLOY / "systemd" / "kickflow-api.service"
WORKER_UNIT = DEPLOY / "systemd" / "kickflow-worker-remote.service"
API_ENV = DEPLOY / "env" / "api.env.example"
WORKER_ENV = DEPLOY / "env" / "worker.env.example"

NAME = re.compile(r"\bKICKFLOW_[A-Z0-9_]*[A-Z0-9]\b")
# Not settings: the shell variables of the runbooks' and README's curl examples.
NOT_SETTINGS = frozenset({"KICKFLOW_TOKEN", "KICKFLOW_URL"})
# What only API nodes may hold (the point of the layout).
API_ONLY = frozenset(
    {"KICKFLOW_DATABASE_URL", "KICKFLOW_S3_ACCESS_KEY_ID", "KICKFLOW_S3_SECRET_ACCESS_KEY"}
)
# click's UsageError, as typer raises it (typer 0.29 vendors click, so not `click.UsageError`).
USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")
UNIT_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
SSE_KEEPALIVE_SECONDS = 15  # the event stream's keep-alive comment (api/routes/progress.py)


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- the CLI ----------------------------------------------------------------------------------


# The CLI's click objects are typed Any: which click they come from depends on typer's version.


@pytest.fixture(scope="module")
def cli() -> Any:
    """The real ``kickflow`` command tree (as the console script builds it)."""
    if not main.app.registered_commands and not main.app.registered_groups:
        main._register()
    group = typer.main.get_command(main.app)
    assert is_group(group)
    return group


def is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def walk(command: Any) -> Iterator[Any]:
    yield command
    if is_group(command):
        for sub in command.commands.values():
            yield from walk(sub)


def cli_envvars(group: Any) -> set[str]:
    """Every environment variable a CLI option reads (``KICKFLOW_PORT`` …)."""
    out: set[str] = set()
    for command in walk(group):
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            out.update([envvar] if isinstance(envvar, str) else envvar or [])
    return out


def setting_names() -> set[str]:
    return {f"KICKFLOW_{name.upper()}" for name in Settings.model_fields}


@dataclass
class Parsed:
    command: Any
    params: dict[str, Any]

    def option(self, flag: str) -> Any:
        """The value an option ended with (from the command line or its env var)."""
        for param in self.command.params:
            if flag in getattr(param, "opts", []):
                assert param.name is not None
                return self.params[param.name]
        raise AssertionError(f"`{self.command.name}` has no option {flag}")


@dataclass(frozen=True)
class Invocation:
    """A ``kickflow …`` command line found in deploy/, with the environment it runs in."""

    where: str
    argv: tuple[str, ...]  # after the program name
    env: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return shlex.join(["kickflow", *self.argv])


def set_environment(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    """Exactly ``env`` for the KICKFLOW_* variables (click and Settings read os.environ)."""
    for key in [k for k in os.environ if k.startswith("KICKFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def parse(cli: Any, run: Invocation, monkeypatch: pytest.MonkeyPatch) -> Parsed:
    """Parse ``run`` as the real CLI would (types, ranges, required options, env vars)
    without running the command; a command line it would refuse fails the test."""
    set_environment(monkeypatch, run.env)
    words, command, name = list(run.argv), cli, "kickflow"
    parent = cli.context_class(cli, info_name=name)
    while is_group(command):
        assert words and not words[0].startswith("-"), f"{run.where}: no subcommand"
        name = words.pop(0)
        sub = command.get_command(parent, name)
        assert sub is not None, f"{run.where}: `{run.text()}`: no command {name!r}"
        if is_group(sub):
            parent = sub.context_class(sub, info_name=name, parent=parent)
        command = sub
    try:
        ctx = command.make_context(name, words, parent=parent)
    except USAGE_ERROR as exc:
        pytest.fail(f"{run.where}: `{run.text()}` is refused by the CLI: {exc.format_message()}")
    return Parsed(command, dict(ctx.params))


# --- env files ----------------------------------------------------------------------------


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines, comments and blank lines skipped; duplicates refused."""
    out: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{shown(path)}:{number}: {raw!r}"
        assert key not in out, f"{shown(path)}:{number}: {key} set twice"
        out[key] = value
    return out


def settings_from(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> Settings:
    set_environment(monkeypatch, env)
    return Settings()


# --- systemd units --------------------------------------------------------------------------


@dataclass
class Unit:
    path: Path
    entries: list[tuple[str, str, str]]  # (section, key, value), in order

    def values(self, key: str, section: str = "Service") -> list[str]:
        return [v for s, k, v in self.entries if (s, k) == (section, key)]

    def value(self, key: str, section: str = "Service") -> str:
        found = self.values(key, section)
        assert found, f"{shown(self.path)}: no {key}= in [{section}]"
        return found[-1]

    def environment(self) -> dict[str, str]:
        """What the service's process sees: its EnvironmentFile= (the example in deploy/env/
        standing for it), then its Environment= lines."""
        env: dict[str, str] = {}
        for name in self.values("EnvironmentFile"):
            env |= parse_env_file(env_example(name.lstrip("-")))
        for line in self.values("Environment"):
            for assignment in shlex.split(line):
                key, _, value = assignment.partition("=")
                env[key] = value
        return env

    def exec_start(self) -> Invocation:
        lines = self.values("ExecStart")
        assert len(lines) == 1, f"{shown(self.path)}: one ExecStart= expected"
        words = expand_unit_line(lines[0].lstrip("-@:+!"), self.environment(), self.path)
        assert Path(words[0]).name == "kickflow", f"{shown(self.path)}: runs {words[0]}"
        return Invocation(shown(self.path), tuple(words[1:]), self.environment())


def parse_unit(path: Path) -> Unit:
    entries, section, pending = [], "", ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"{shown(path)}:{number}: not `Key=value` in a section: {raw!r}"
        entries.append((section, key.strip(), value.strip()))
    return Unit(path, entries)


def env_example(installed: str) -> Path:
    """The example of an installed env file: /etc/kickflow/NAME -> deploy/env/NAME.example."""
    example = DEPLOY / "env" / f"{Path(installed).name}.example"
    assert example.is_file(), f"EnvironmentFile={installed} has no example {shown(example)}"
    return example


def expand_unit_line(line: str, env: Mapping[str, str], path: Path) -> list[str]:
    """systemd's expansion: ``${NAME}`` is one word, ``$NAME`` splits on white space. An unset
    name would silently drop an argument, so it fails here."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"{shown(path)}: ExecStart= uses ${name}, which nothing sets"
        return shlex.quote(env[name]) if match.group(1) else env[name]

    return shlex.split(UNIT_VARIABLE.sub(value, line))


def units() -> list[Unit]:
    return [parse_unit(p) for p in sorted((DEPLOY / "systemd").glob("*.service"))]


def seconds(text: str) -> float:
    """A systemd time span: ``90``, ``90s``, ``2min``, ``1min 30s``."""
    units_ = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    assert parts, f"not a time span: {text!r}"
    return sum(float(n) * units_[u] for n, u in parts)


def stop_budget(settings: Settings) -> float:
    """The longest graceful stop of a worker (worker/runner.py ``Worker.stop``): the grace for
    running jobs, the hand-back of what still runs (2 × heartbeat + 2 s), the housekeeper's
    join (5 s)."""
    return settings.shutdown_grace_seconds + 2 * settings.heartbeat_seconds + 2.0 + 5.0


# --- compose --------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def dockerfile_default(instruction: str) -> list[str]:
    """The image's ENTRYPOINT or CMD (exec form)."""
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith(f"{instruction} "):
            words = json.loads(line[len(instruction) + 1 :])
            assert isinstance(words, list), f"{instruction} must use the exec form"
            return [str(w) for w in words]
    raise AssertionError(f"{shown(DOCKERFILE)}: no {instruction}")


def words_of(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def interpolated(value: Any) -> str:
    """A compose value with ``${NAME…}`` standing for what the operator supplies."""
    return COMPOSE_VARIABLE.sub(lambda m: f"example-{m.group(1).lower()}", str(value))


def service_env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): interpolated(v) for k, v in raw.items()}


def is_kickflow(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if not build:
        return False
    dockerfile = COMPOSE.parent / build["context"] / build["dockerfile"]
    return dockerfile.resolve() == DOCKERFILE.resolve()


def service_run(name: str, service: dict[str, Any]) -> Invocation:
    entrypoint = words_of(service.get("entrypoint") or dockerfile_default("ENTRYPOINT"))
    command = words_of(service.get("command") or dockerfile_default("CMD"))
    assert entrypoint == ["kickflow"], f"compose service {name}: entrypoint {entrypoint}"
    return Invocation(f"{shown(COMPOSE)} service {name}", tuple(command), service_env(service))


def kickflow_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if is_kickflow(s)}


def service_networks(service: dict[str, Any]) -> set[str]:
    return set(service.get("networks") or ["default"])


def named_volume(entry: Any) -> str | None:
    """The named volume a service's volume entry uses (None for a bind mount)."""
    if isinstance(entry, dict):
        return str(entry["source"]) if entry.get("type", "volume") == "volume" else None
    source = str(entry).split(":", 1)[0]
    return None if source.startswith(("/", ".", "~")) else source


def read_only_targets(service: dict[str, Any]) -> set[str]:
    out = set()
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            if entry.get("read_only"):
                out.add(str(entry["target"]))
            continue
        parts = str(entry).split(":")
        if len(parts) == 3 and "ro" in parts[2].split(","):
            out.add(parts[1])
    return out


# --- every command line in deploy/ ---------------------------------------------------------


def readme_runs() -> list[Invocation]:
    """The ``kickflow …`` lines of deploy/README.md's bash blocks."""
    out, inside = [], False
    path = DEPLOY / "README.md"
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if line.startswith("```"):
            inside = line == "```bash" and not inside
        elif inside and line.startswith("kickflow "):
            out.append(Invocation(f"{shown(path)}:{number}", tuple(shlex.split(line)[1:])))
    return out


def all_runs() -> list[Invocation]:
    runs = [unit.exec_start() for unit in units()]
    runs += [service_run(n, s) for n, s in kickflow_services().items()]
    image = dockerfile_default("ENTRYPOINT") + dockerfile_default("CMD")
    runs.append(Invocation(f"{shown(DOCKERFILE)} ENTRYPOINT + CMD", tuple(image[1:])))
    return runs + readme_runs()


# --- tests: names -----------------------------------------------------------------------------


def test_every_kickflow_name_in_deploy_is_a_setting_or_a_cli_variable(cli: Any) -> None:
    known = setting_names() | cli_envvars(cli) | NOT_SETTINGS
    unknown = {
        f"{shown(path)}: {name}"
        for path in deploy_files()
        for name in NAME.findall(path.read_text())
        if name not in known
    }
    assert not unknown, f"not a setting (src/kickflow/config.py) nor a CLI env var: {unknown}"


def test_every_yaml_file_parses() -> None:
    found = [p for p in deploy_files() if p.suffix in {".yml", ".yaml"}]
    assert COMPOSE in found
    for path in found:
        assert yaml.safe_load(path.read_text()) is not None, shown(path)


# --- tests: command lines ---------------------------------------------------------------------


def test_every_kickflow_command_line_parses_with_the_real_cli(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = all_runs()
    assert len(runs) >= 10, [r.where for r in runs]  # units, compose services, image, README
    for run in runs:
        parse(cli, run, monkeypatch)


def test_api_replicas_run_no_job_slots(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    api_runs = [parse_unit(API_UNIT).exec_start()]
    api_runs += [service_run(n, s) for n, s in kickflow_services().items() if n.startswith("api")]
    assert len(api_runs) == 3
    for run in api_runs:
        parsed = parse(cli, run, monkeypatch)
        assert parsed.command.name == "serve", run.where
        assert parsed.option("--workers") == 0, f"{run.where}: an API replica has no slots"
        assert parsed.option("--host") == "0.0.0.0", f"{run.where}: reachable by the proxy"


def remote_worker_runs() -> list[Invocation]:
    runs = [parse_unit(WORKER_UNIT).exec_start()]
    return runs + [
        service_run(n, s)
        for n, s in kickflow_services().items()
        if words_of(s.get("command") or [])[:1] == ["worker"]
    ]


def test_remote_workers_reach_the_service_with_a_token_only(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = remote_worker_runs()
    assert len(runs) == 3, [r.where for r in runs]  # the unit and two compose workers
    for run in runs:
        parsed = parse(cli, run, monkeypatch)
        assert parsed.command.name == "worker", run.where
        assert parsed.option("--server").startswith(("http://", "https://")), run.where
        assert parsed.option("--token"), f"{run.where}: no worker token"
        assert parsed.option("--concurrency") >= 1
        assert "--token" not in run.argv, f"{run.where}: the token would show in `ps`"
        assert not API_ONLY & set(run.env), f"{run.where}: holds {API_ONLY & set(run.env)}"


# --- tests: env files -------------------------------------------------------------------------


def test_env_examples_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    examples = sorted((DEPLOY / "env").glob("*.env.example"))
    assert examples == [API_ENV, WORKER_ENV]
    for path in examples:
        env = parse_env_file(path)
        assert set(env) <= setting_names(), f"{shown(path)}: {set(env) - setting_names()}"
        check_data_dir_outside_roots(settings_from(monkeypatch, env))


def test_the_api_env_uses_postgresql_and_object_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, parse_env_file(API_ENV))
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.storage == "s3"
    assert settings.s3_bucket and settings.s3_endpoint_url
    assert settings.s3_access_key_id and settings.s3_secret_access_key
    default_cap = Settings.model_fields["http_max_connections_per_client"].default
    assert settings.http_max_connections_per_client > default_cap, "behind a proxy: raise it"


def test_the_worker_env_holds_no_database_url_and_no_s3_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = parse_env_file(WORKER_ENV)
    assert not API_ONLY & set(env), API_ONLY & set(env)
    assert not [v for v in env.values() if v.startswith(("postgresql", "sqlite"))]
    settings = settings_from(monkeypatch, env)
    assert settings.server_url.startswith(("http://", "https://")) and settings.worker_token
    assert settings.allowed_root_paths(), "path jobs are read under the worker's own roots"


# --- tests: systemd units -----------------------------------------------------------------


def test_units_stop_gracefully(monkeypatch: pytest.MonkeyPatch) -> None:
    found = units()
    assert {u.path for u in found} >= {API_UNIT, WORKER_UNIT}
    for unit in found:
        where = shown(unit.path)
        # SIGTERM to the main process only: it stops its jobs' FFmpeg itself.
        assert unit.value("KillMode") == "mixed", where
        assert unit.value("KillSignal", "Service") == "SIGTERM", where
        budget = stop_budget(settings_from(monkeypatch, unit.environment()))
        assert seconds(unit.value("TimeoutStopSec")) > budget, f"{where}: stop needs {budget}s"
        assert unit.value("Restart") in {"always", "on-failure"}, where
        assert unit.value("User") == "kickflow", where


def test_api_and_worker_units_are_hardened(monkeypatch: pytest.MonkeyPatch) -> None:
    for unit in map(parse_unit, (API_UNIT, WORKER_UNIT)):
        where = shown(unit.path)
        for key, expected in HARDENING.items():
            assert unit.value(key) == expected, f"{where}: {key}={expected} expected"
        writable = [Path(p.lstrip("-")) for v in unit.values("ReadWritePaths") for p in v.split()]
        data_dir = settings_from(monkeypatch, unit.environment()).data_dir
        assert any(data_dir == p or p in data_dir.parents for p in writable), (
            f"{where}: KICKFLOW_DATA_DIR {data_dir} is not in ReadWritePaths= {writable}"
        )


def test_unit_environment_files() -> None:
    assert parse_unit(API_UNIT).values("EnvironmentFile") == ["/etc/kickflow/api.env"]
    assert parse_unit(WORKER_UNIT).values("EnvironmentFile") == ["/etc/kickflow/worker.env"]
    for unit in units():
        unit.environment()  # every EnvironmentFile= has its example


# --- tests: compose ---------------------------------------------------------------------------


def test_compose_services_reference_only_defined_things() -> None:
    data = compose()
    services, volumes = data["services"], set(data.get("volumes") or {})
    networks = set(data.get("networks") or {}) | {"default"}
    used: set[str] = set()
    for name, service in services.items():
        named = {v for v in map(named_volume, service.get("volumes") or []) if v}
        assert named <= volumes, f"service {name}: undefined volumes {named - volumes}"
        used |= named
        assert service_networks(service) <= networks, f"service {name}: undefined network"
        depends = set(service.get("depends_on") or [])
        assert depends <= set(services) - {name}, f"service {name}: depends on {depends}"
        assert "image" in service or "build" in service, f"service {name}: no image"
    assert used == volumes, f"volumes defined but unused: {volumes - used}"


def test_compose_has_the_whole_layout() -> None:
    services = compose()["services"]
    images = {n: str(s.get("image", "")) for n, s in services.items()}
    assert any(i.startswith("postgres:") for i in images.values())
    assert any("seaweedfs" in i for i in images.values())
    assert any(i.startswith(("nginx:", "caddy:")) for i in images.values())
    commands = {n: words_of(s.get("command") or []) for n, s in kickflow_services().items()}
    assert [n for n, c in commands.items() if c == ["db", "upgrade"]] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert sorted(n for n, c in commands.items() if c[:1] == ["serve"]) == ["api-1", "api-2"]
    assert sorted(n for n, c in commands.items() if c[:1] == ["worker"]) == [
        "worker-1",
        "worker-2",
    ]
    for name in ("api-1", "api-2"):
        wait = services[name]["depends_on"]["migrate"]["condition"]
        assert wait == "service_completed_successfully", name


def test_compose_workers_cannot_reach_the_database_and_read_the_nas_read_only() -> None:
    services = compose()["services"]
    database_networks = {
        net
        for s in services.values()
        if str(s.get("image", "")).startswith("postgres:")
        for net in service_networks(s)
    }
    for name in ("worker-1", "worker-2"):
        service = services[name]
        assert not service_networks(service) & database_networks, f"{name} can reach PostgreSQL"
        assert "env_file" not in service, name
        env = service_env(service)
        assert not API_ONLY & set(env), f"{name} holds {API_ONLY & set(env)}"
        roots = [r for r in env["KICKFLOW_ALLOWED_ROOTS"].split(os.pathsep) if r]
        assert roots and set(roots) <= read_only_targets(service), f"{name}: NAS not read-only"


def test_the_image_is_built_from_this_repository() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^RUN pip install .*/build", text, re.MULTILINE), "installs the package"
    for service in kickflow_services().values():
        assert (COMPOSE.parent / service["build"]["context"] / "pyproject.toml").is_file()


# --- tests: the proxy -------------------------------------------------------------------------


def nginx_location(text: str, spec: str) -> str:
    match = re.search(r"location\s+" + re.escape(spec) + r"\s*\{([^}]*)\}", text)
    assert match, f"{shown(NGINX)}: no `location {spec}`"
    return match.group(1)


def nginx_size_mb(text: str) -> float:
    match = re.search(r"client_max_body_size\s+(\d+)([kmg]?);", text)
    assert match, f"{shown(NGINX)}: no client_max_body_size"
    return int(match.group(1)) * {"k": 1 / 1024, "m": 1, "g": 1024, "": 1 / 1024**2}[match[2]]


def test_the_proxy_keeps_event_streams_open_and_takes_big_uploads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = NGINX.read_text()
    events = nginx_location(text, "= /api/qc/events")
    assert re.search(r"proxy_buffering\s+off;", events)
    timeout = re.search(r"proxy_read_timeout\s+(\w+);", events)
    assert timeout and seconds(timeout.group(1)) > SSE_KEEPALIVE_SECONDS * 4
    assert "proxy_pass" in nginx_location(text, "= /api/health")
    api = compose()["services"]["api-1"]
    max_upload = settings_from(monkeypatch, service_env(api)).max_upload_mb
    assert nginx_size_mb(text) >= max_upload


def test_the_proxy_balances_over_the_compose_api_replicas() -> None:
    text = NGINX.read_text()
    upstream = re.search(r"upstream\s+\w+\s*\{([^}]*)\}", text)
    assert upstream
    servers = set(re.findall(r"^\s*server\s+([\w.-]+):8000\b", upstream.group(1), re.MULTILINE))
    api = {n for n, s in kickflow_services().items() if words_of(s["command"])[:1] == ["serve"]}
    assert servers == api
    proxy = compose()["services"]["proxy"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]


# --- tests: the README ------------------------------------------------------------------------


def test_the_readme_describes_the_multi_machine_layout() -> None:
    text = (DEPLOY / "README.md").read_text()
    assert "## Multi-machine layout" in text
    for needle in ("/api/qc/events", "/api/health", "kickflow db upgrade", "--role worker"):
        assert needle in text, needle
    for link in re.findall(r"\]\(([^)#]+)\)", text):
        assert (DEPLOY / link).exists(), f"deploy/README.md links to a missing {link}"
