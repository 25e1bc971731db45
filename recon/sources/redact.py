"""Masks secrets (API tokens, keys) in headers, URLs and log text before anything is logged.

httpx masks only ``Authorization``/``Proxy-Authorization`` in reprs, not ``X-Shopify-Access-Token``
or Loop's ``X-Authorization`` (shopify-admin-api.md §3, loop-returns-api.md §3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "[REDACTED]"
SECRET_HEADERS = frozenset(
    {"x-shopify-access-token", "x-authorization", "authorization", "proxy-authorization", "cookie"}
)
_SECRET_PARAM = re.compile(
    r"(token|api[_-]?key|apikey|secret|password|passwd|signature|sig|auth|credential|key)$", re.I
)
_HEADER_LINE = re.compile(
    r"(?P<name>x-shopify-access-token|x-authorization|proxy-authorization|authorization)"
    r"(?P<sep>['\"]?\s*[:=,]\s*['\"]?)(?P<value>(?:bearer\s+|basic\s+)?[^\s'\",}]+)",
    re.I,
)
_QUERY_PAIR = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)=(?P<value>[^&\s'\"#]+)")
# Shopify token prefixes (shpat_ admin, shpca_ custom app, shppa_ private, shpss_ shared secret,
# shpua_ user access). One list: the settings refuse a ``*_env`` value with one of them
# (``recon.config_values``), and the logs mask a token that starts with one.
SHOPIFY_TOKEN_PREFIXES = ("shpat_", "shpca_", "shppa_", "shpss_", "shpua_")
_SHOPIFY_TOKEN = re.compile(
    r"\b(?:" + "|".join(map(re.escape, SHOPIFY_TOKEN_PREFIXES)) + r")[A-Za-z0-9]+"
)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of the headers with every secret header value masked."""
    return {
        name: (MASK if name.lower() in SECRET_HEADERS else value) for name, value in headers.items()
    }


def redact_url(url: str) -> str:
    """The URL with token-like query parameters and user:password masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1] if "@" in parts.netloc else parts.netloc
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(
        [(name, MASK if _SECRET_PARAM.search(name) else value) for name, value in pairs], safe="[]"
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@lru_cache(maxsize=64)  # the same few secrets, on every log line
def _written_forms(secret: str) -> tuple[str, ...]:
    """``secret`` as messages may write it, longest first: as is, escaped by ``repr`` (of the
    text or of its bytes, as h11 quotes a header value it refuses), and trimmed.

    A key read from a file with its line break (``kubectl create secret --from-file``) is
    quoted by h11 as ``b'key\\n'``: neither the value nor anything a pattern knows (Loop's
    keys carry no prefix). Its trimmed core is the part that must never be shown.
    """
    forms = {secret, secret.strip(), repr(secret)[1:-1], repr(secret.encode())[2:-1]}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def redact_database_url(url: str) -> str:
    """A store URL to show: the password masked, in ``user:password@`` and in the query.

    SQLAlchemy masks only the first (``render_as_string(hide_password=True)``), but libpq also
    takes ``?password=`` (and ``sslpassword``), which a password holding ``@`` or ``/`` may use.
    """
    from sqlalchemy.engine import make_url  # SQLAlchemy loads with the store, not the sources

    parsed = make_url(url)
    query = {
        name: (MASK if _SECRET_PARAM.search(name) else value)
        for name, value in parsed.query.items()
    }
    return parsed.set(query=query).render_as_string(hide_password=True)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values (in every written form), secret headers, token-like query
    pairs and Shopify tokens."""
    for secret in secrets:
        for form in _written_forms(secret) if secret else ():
            text = text.replace(form, MASK)
    text = _HEADER_LINE.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    text = _QUERY_PAIR.sub(
        lambda m: f"{m['name']}={MASK}" if _SECRET_PARAM.search(m["name"]) else m.group(0), text
    )
    return _SHOPIFY_TOKEN.sub(MASK, text)


_TRACEBACKS = logging.Formatter()  # renders tracebacks as every logging.Formatter does


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's rendered message (attach to handlers).

    ``bootstrap`` can add it to the root handlers so third-party loggers (httpx logs request URLs at
    INFO) never print a secret either.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def add(self, secrets: Iterable[str]) -> None:
        """Also mask these values."""
        self._secrets = tuple(dict.fromkeys((*self._secrets, *(s for s in secrets if s))))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage(), self._secrets)
        record.args = None
        # A traceback is written after the message (APScheduler logs a job's exception with
        # it): render it now, masked, so the formatter writes this text instead.
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self._secrets)
        return True


def protect_root_handlers(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` in every line the root logger's handlers write (installing the filter).

    Called by ``bootstrap`` once the tokens are known: a key without a recognisable prefix (Loop's)
    can only be masked by value.
    """
    values = [s for s in secrets if s]
    for handler in logging.getLogger().handlers:
        for existing in handler.filters:
            if isinstance(existing, RedactingFilter):
                existing.add(values)
                break
        else:
            handler.addFilter(RedactingFilter(values))


def protect_logger(name: str, secrets: Iterable[str] = ()) -> None:
    """Attach (once) a ``RedactingFilter`` to a logger, adding ``secrets`` to what it masks.

    httpx logs every request URL at INFO through the ``httpx`` logger; a token in a query string
    would otherwise reach the logs.
    """
    target = logging.getLogger(name)
    for existing in target.filters:
        if isinstance(existing, RedactingFilter):
            existing.add(secrets)
            return
    target.addFilter(RedactingFilter(secrets))
