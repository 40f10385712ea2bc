"""The Profiles pages: every built-in delivery spec and the organisation's own, in plain words;
admins upload (or replace) a custom TOML profile and delete one.

An upload is checked exactly as a job's profile is (:mod:`kickflow.profiles.catalog`): a bad
one answers 422 with the one sentence naming the key, the text kept in the form, nothing
stored. A job keeps the text it was submitted with, so replacing or deleting a profile never
changes a job already submitted.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from kickflow.errors import NotFound, ProfileError, RequestInvalid
from kickflow.jobs import JobStore
from kickflow.profiles import builtin_profile_names, catalog, load_profile, load_profile_text
from kickflow.web.session import AdminPage, PageUser, ViewerPage
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]
UPLOAD_STATUS = 422  # the form was understood; its content is not a valid profile


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.services.store
    return store


def _list_context(store: JobStore, user: PageUser) -> dict[str, Any]:
    choices = catalog.available_profiles(store, user.org_id)
    stored = {p.name: p for p in store.org_profiles(user.org_id)}
    return {
        "builtin": [c for c in choices if not c.custom],
        "custom": [(c, stored[c.name]) for c in choices if c.custom and c.name in stored],
        "default_name": catalog.DEFAULT_PROFILE_NAME,
        "max_kb": catalog.MAX_SOURCE_BYTES // 1024,
        "can_edit": user.may("admin"),
    }


@router.get("/profiles", response_class=HTMLResponse)
def profiles_page(request: Request, user: ViewerPage) -> Response:
    """The built-in profiles, the organisation's own, and (admins) the upload form."""
    context = _list_context(_store(request), user) | {"form": {"name": "", "source": ""}}
    return render(request, "profiles/list.html", context)


@router.post("/profiles", response_class=HTMLResponse)
def upload_profile(
    request: Request,
    user: AdminPage,
    name: FormText = "",
    source: FormText = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Store (or replace) a custom profile from the file or, without one, the text area."""
    store = _store(request)
    try:
        text = _uploaded_text(file) if file is not None and file.filename else source
        saved = catalog.save_profile(store, user.org_id, name, text, user.user_id)
    except (RequestInvalid, ProfileError) as exc:
        kept = {"name": name, "source": source if not (file and file.filename) else ""}
        context = _list_context(store, user) | {"form": kept, "error": sentence(exc.message)}
        return render(request, "profiles/list.html", context, status_code=UPLOAD_STATUS)
    return redirect(f"/profiles/{saved.name}", f"Profile {saved.name} saved.")


def _uploaded_text(file: UploadFile) -> str:
    """The file's text, read no further than the size cap."""
    data = file.file.read(catalog.MAX_SOURCE_BYTES + 1)
    if len(data) > catalog.MAX_SOURCE_BYTES:
        raise RequestInvalid(catalog.TOO_LARGE)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestInvalid("profile: the file is not UTF-8 text (a TOML file is)") from None


@router.get("/profiles/{name}", response_class=HTMLResponse)
def profile_page(request: Request, user: ViewerPage, name: str) -> Response:
    """One profile in plain words, with its TOML; admins may replace or delete a custom one."""
    if name in builtin_profile_names():
        context = _builtin(name)
    else:
        context = _custom(_store(request), user.org_id, name)
    rules = grouped(catalog.describe(context["profile"])) if context["profile"] else []
    return render(request, "profiles/show.html", context | _page_flags(user, name, rules))


def grouped(described: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """``describe``'s sentences by section, sections in their first-seen order."""
    sections: dict[str, list[str]] = {}
    for section, text in described:
        sections.setdefault(section, []).append(text)
    return list(sections.items())


def _builtin(name: str) -> dict[str, Any]:
    text = resources.files("kickflow.profiles").joinpath(f"{name}.toml").read_text("utf-8")
    return {"profile": load_profile(name), "source": text, "custom": None}


def _custom(store: JobStore, org_id: str, name: str) -> dict[str, Any]:
    """The organisation's profile; one saved under older rules is shown with what is wrong."""
    stored = store.org_profile(org_id, name)
    if stored is None:
        raise NotFound("There is no such profile in your organisation.")
    context: dict[str, Any] = {"source": stored.source, "custom": stored}
    try:
        return context | {"profile": load_profile_text(stored.source, stored.name)}
    except ProfileError as exc:
        return context | {"profile": None, "broken": sentence(exc.message)}


def _page_flags(user: PageUser, name: str, rules: list[tuple[str, list[str]]]) -> dict[str, Any]:
    return {
        "name": name,
        "rules": rules,
        "can_edit": user.may("admin"),
        "is_default": name == catalog.DEFAULT_PROFILE_NAME,
    }


@router.post("/profiles/{name}/delete", response_class=HTMLResponse)
def delete_profile(request: Request, user: AdminPage, name: str) -> Response:
    """Delete a custom profile; jobs submitted with it keep their own copy."""
    if not _store(request).delete_org_profile(user.org_id, name[:200]):
        raise NotFound("There is no such profile in your organisation.")
    return redirect("/profiles", f"Profile {name} deleted; jobs already submitted keep it.")
