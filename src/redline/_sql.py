"""SQLAlchemy engines by URL, with one-line errors that never show a password.

Shared by the assessment store and the proxy's audit log: SQLite by path, PostgreSQL by a
`postgresql+psycopg://` URL, any other database SQLAlchemy knows.
"""

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from redline.errors import RedlineError


def safe_url(url: str) -> str:
    """`url` with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given, without credentials
        return url.split("@")[-1]


def first_line(ex: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    text = str(ex).strip().splitlines()
    return text[0] if text else type(ex).__name__


def database_error(url: str, ex: BaseException) -> RedlineError:
    """A one-line error naming the database (password hidden) and what went wrong."""
    return RedlineError(f"database {safe_url(url)}: {first_line(ex)}")


def open_engine(url: str, **options: Any) -> Engine:
    """An engine for `url` (no connection is made yet); a bad URL or driver is a RedlineError."""
    try:
        return create_engine(url, **options)
    except (SQLAlchemyError, ImportError, ValueError) as ex:
        raise database_error(url, ex) from ex
