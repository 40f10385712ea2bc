"""Portable SQL functions: the database clock and lease tokens, compiled per dialect.

``db_now()`` is the only clock leases and stuck detection are measured on (never a worker's).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class db_now(FunctionElement[float]):
    """Current database time in seconds since the epoch (stable within one statement)."""

    type = sa.Double()
    inherit_cache = True
    name = "db_now"


class new_token(FunctionElement[str]):
    """A fresh random 32-hex-digit lease token, generated per row by the database."""

    type = sa.String(32)
    inherit_cache = True
    name = "new_token"


@compiles(db_now, "postgresql")
def _db_now_pg(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(new_token, "postgresql")
def _new_token_pg(element: new_token, compiler: SQLCompiler, **kw: Any) -> str:
    return "replace(CAST(gen_random_uuid() AS TEXT), '-', '')"


@compiles(new_token, "sqlite")
def _new_token_sqlite(element: new_token, compiler: SQLCompiler, **kw: Any) -> str:
    return "lower(hex(randomblob(16)))"


class like_folded(FunctionElement[bool]):
    """``like_folded(column, pattern)``: ``column LIKE pattern ESCAPE '\\'``, ignoring the case
    of ASCII letters only, on both databases; ``pattern`` must be folded already
    (:func:`kickflow.jobs.listing.fold`: a bound value, not lower-cased once per row).

    SQLite's LIKE ignores ASCII case by itself; PostgreSQL lower-cases the column in the "C"
    collation (ASCII only), about twice as fast as ``ILIKE`` or a locale's ``lower()``."""

    type = sa.Boolean()
    inherit_cache = True
    name = "like_folded"


def _like_parts(element: like_folded, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, pattern = element.clauses
    return compiler.process(column, **kw), compiler.process(pattern, **kw)


@compiles(like_folded, "postgresql")
def _like_folded_pg(element: like_folded, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _like_parts(element, compiler, **kw)
    return f"""(lower({column} COLLATE "C") LIKE {pattern} ESCAPE '\\')"""


@compiles(like_folded, "sqlite")
def _like_folded_sqlite(element: like_folded, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _like_parts(element, compiler, **kw)
    return f"({column} LIKE {pattern} ESCAPE '\\')"
