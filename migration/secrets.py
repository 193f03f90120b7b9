"""Keep secrets out of every output.

Passwords reach the process only through the environment (or a pgpass file); each one
is registered here the moment it is read, and :func:`scrub` removes every registered
secret from any text before it is printed, logged or stored.  URLs are always rendered
with :func:`redact_url`.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from sqlalchemy.engine import URL, make_url

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"

# password=..., pwd=..., PWD=... inside ODBC connection strings or query strings
_KV_PASSWORD = re.compile(r"(?i)\b(password|pwd)\s*=\s*([^;&\s]+)")
# scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://[^:/@\s]+:)([^@\s]+)(@)")
#: where a database error quotes a row's values: PostgreSQL's constraint details and the bound
#: parameters SQLAlchemy appends — a legacy row may hold personal data, and an error line is
#: printed, logged and kept in the ledger (`stage_failed`)
_FAILING_ROW = re.compile(r"(Failing row contains ).*")
_KEY_VALUE = re.compile(r"(Key \([^)\n]*\)=)\(.*?\)( already exists| is not present| conflicts)")
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(\(Background on this error|$))", re.S)
WITHHELD = "(values withheld)"


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`scrub` hides it wherever it later appears."""
    if value and len(value) >= 1:
        with _lock:
            _secrets.add(value)


def scrub(text: Any) -> str:
    """Return ``text`` with every registered secret and every URL/ODBC password masked, and the row
    values a database error quotes withheld."""
    s = str(text)
    s = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), s)
    s = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", s)
    s = _FAILING_ROW.sub(lambda m: m.group(1) + WITHHELD, s)
    s = _KEY_VALUE.sub(lambda m: m.group(1) + WITHHELD + m.group(2), s)
    s = _PARAMETERS.sub("[parameters: " + WITHHELD + "]", s)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret and secret in s:
            s = s.replace(secret, MASK)
    return s


def redact_url(url: str | URL | None) -> str:
    """A URL as it may be shown to a person: never with its password."""
    if url is None:
        return "(not set)"
    try:
        u = make_url(url) if isinstance(url, str) else url
        return scrub(u.render_as_string(hide_password=True))
    except Exception:  # an unparsable URL is still shown without what looks like a password
        return scrub(str(url))


class ScrubbingFilter(logging.Filter):
    """A logging filter that masks secrets in every record, formatted or not."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            msg = str(record.msg)
        record.msg = scrub(msg)
        record.args = None
        return True
