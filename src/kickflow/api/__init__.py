"""The HTTP API: :func:`create_app` builds the FastAPI application.

Modules: ``app`` (factory), ``errors`` (one error shape, status by exception class), ``auth``
(Bearer tokens, roles), ``tokens`` (organisations and API tokens), ``limits`` (body size and
content type), ``uploads`` (streamed multipart), ``views`` (JSON shapes), ``queries`` (reads),
``health`` (component checks), and ``routes/`` with one router per resource.
"""

from kickflow.api.app import create_app

__all__ = ["create_app"]
