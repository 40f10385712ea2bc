"""The HTTP API: :func:`create_app` builds the FastAPI application.

Modules: ``app`` (factory), ``errors`` (one error shape, status by exception class), ``auth``
(Bearer tokens, roles), ``tokens`` (organisations and API tokens), ``limits`` (body size and
content type), ``uploads`` (streamed multipart), ``views`` (JSON shapes), ``queries`` (reads),
``health`` (component checks), and ``routes/`` with one router per resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kickflow.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so `kickflow admin` and other light users of kickflow.api.* skip FastAPI's import.
    if name == "create_app":
        from kickflow.api.app import create_app

        return create_app
    raise AttributeError(name)
