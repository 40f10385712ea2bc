"""The server the browser tests drive: a real ``kickflow serve`` with two organisations' people.

Org A (``acme``) has an admin, a member and a viewer; org B (``globex``) has an admin. Each
person has an email and a password made for this server, so tests sign in through the real
form; their API tokens (``Dashboard.api``) let a test prepare data without a browser.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from tests.fixtures_server import Server, start_server, wait_for

ORG_A = "acme"
ORG_B = "globex"
PEOPLE = ((ORG_A, "admin"), (ORG_A, "member"), (ORG_A, "viewer"), (ORG_B, "admin"))
FINISHED = ("completed", "failed", "cancelled")
JOB_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Person:
    """Someone who signs in: ``admin@acme.test`` and the password made for this server."""

    email: str
    password: str
    name: str
    org: str
    role: str


@dataclass(frozen=True)
class DashboardOptions:
    """How a module's server runs: override the ``dashboard_options`` fixture to change it
    (e.g. two worker slots to run two jobs side by side, or an extra ``KICKFLOW_*`` setting)."""

    workers: int = 1
    backend: str = "sqlite"
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Dashboard:
    """A running server, the people who may sign in to it and API shortcuts for test data."""

    server: Server
    people: dict[tuple[str, str], Person]
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def person(self, role: str, org: str = ORG_A) -> Person:
        """The person of ``org`` with ``role`` (KeyError names the pairs that exist)."""
        try:
            return self.people[(org, role)]
        except KeyError:
            raise KeyError(f"no {role} in {org}; people: {sorted(self.people)}") from None

    def token(self, org: str = ORG_A, role: str = "admin") -> str:
        """An API token of ``org`` with ``role``, made once per server."""
        key = (org, role)
        if key not in self._tokens:
            self._tokens[key] = self.server.token_for(org, role)
        return self._tokens[key]

    def api(self, org: str = ORG_A, role: str = "admin") -> httpx.Client:
        """An API client of ``org`` (close it, or use it in a ``with``)."""
        return self.server.client(self.token(org, role))

    def submit(
        self, media: Path, *, org: str = ORG_A, name: str | None = None, **fields: str
    ) -> str:
        """Upload ``media`` through the API as ``org``'s admin; returns the new job's id."""
        upload = {"file": (name or media.name, media.read_bytes())}
        with self.api(org) as api:
            reply = api.post("/api/qc/jobs", files=upload, data=fields)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def job(self, job_id: str, org: str = ORG_A) -> dict[str, Any]:
        """The job as the API shows it to ``org``."""
        with self.api(org) as api:
            reply = api.get(f"/api/qc/jobs/{job_id}")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def wait_for_job(
        self,
        job_id: str,
        *,
        org: str = ORG_A,
        states: tuple[str, ...] = FINISHED,
        timeout: float = JOB_TIMEOUT_S,
    ) -> dict[str, Any]:
        """The job once its state is one of ``states`` (fails the test after ``timeout``)."""

        def reached() -> dict[str, Any] | None:
            job = self.job(job_id, org)
            return job if job["state"] in states else None

        found: dict[str, Any] = wait_for(reached, timeout, f"job {job_id} to be {states}", 0.25)
        return found

    def output(self) -> str:
        """What the server printed so far (for failure messages)."""
        return "".join(self.server.output)


def start_dashboard(base: Path, db_url: str, options: DashboardOptions) -> Dashboard:
    """Start ``kickflow serve`` on a free loopback port and create the people."""
    server = start_server(base, db_url, workers=options.workers, env=dict(options.env))
    try:
        people = create_people(server)
    except BaseException:
        server.stop()
        raise
    return Dashboard(server, people)


def create_people(server: Server) -> dict[tuple[str, str], Person]:
    """The people of :data:`PEOPLE`, created through the store as ``kickflow admin
    create-user`` does (the CLI would start one process per person)."""
    from kickflow.security.passwords import hash_password

    settings = Settings(database_url=server.db_url, data_dir=server.data_dir)
    store = SqlJobStore(server.db_url, settings)
    people: dict[tuple[str, str], Person] = {}
    try:
        for org, role in PEOPLE:
            person = Person(
                email=f"{role}@{org}.test",
                password=secrets.token_urlsafe(12),
                name=f"{org.title()} {role.title()}",
                org=org,
                role=role,
            )
            user = store.create_user(person.email, hash_password(person.password), person.name)
            store.set_membership(user.id, store.ensure_org(org), role)  # type: ignore[arg-type]
            people[(org, role)] = person
    finally:
        store.close()
    return people
