"""Value types the settings check: environment variable names, API base URLs, e-mail addresses;
and the base of every settings section.

Each is a ``str`` refused at load with a sentence saying what was expected (``recon.config``).
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict

from recon.sources.redact import SHOPIFY_TOKEN_PREFIXES

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# A variable's name as people write them (RECON_LOOP_API_KEY, SMTP_PASSWORD_2): upper case,
# digits and _, no 16 letters or digits in a row. A key or token has such a run (Shopify's 32 hex,
# Loop's 36 letters and digits, an AWS key id's 20, a base32 secret's 16), a password lower case.
_CONVENTIONAL_ENV_NAME = re.compile(r"(?![A-Z0-9_]*[A-Z0-9]{16})[A-Z_][A-Z0-9_]{0,63}")


def _env_name(value: str) -> str:
    """An environment variable's name, never a secret pasted in its place."""
    if not _ENV_NAME.fullmatch(value) or value.lower().startswith(SHOPIFY_TOKEN_PREFIXES):
        raise ValueError(
            "must name the environment variable that holds the secret (letters, digits, _), "
            "not the secret itself"
        )
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


def shown_env_name(value: str) -> bool:
    """Whether a ``*_env`` value may be written in a message: only a conventional variable
    name is. A Loop key or a password of letters and digits is a valid name, so it loads, and a
    message saying that "variable" is unset would print the credential to stderr (cron's mail,
    the job log); messages name the ``[section] key`` instead.
    """
    return _CONVENTIONAL_ENV_NAME.fullmatch(value) is not None


def _http_url(value: str) -> str:
    """An http(s) base URL; anything else would only fail at the first request, after retries."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_ADDR_SPEC = re.compile(r"[^@\s<>,;:\"()\[\]]+@[^@\s<>,;:\"()\[\]]+")


def _address(value: str) -> str:
    """One e-mail address, with a display name if wanted (``ap@acme.test`` or
    ``Accounts <ap@acme.test>``): it goes into a header as written.

    Checked here, not by the relay at 02:00: there a comma in a name (``Doe, Jane <...>``), two
    addresses in one entry, an empty or @-less one were refused after the run (its report
    waiting, exit 5 each night), and a line break (a header of its own) failed the mail's build
    after the findings were saved.
    """
    found = getaddresses([value]) if not _CONTROL_CHARACTER.search(value) else []
    if len(found) != 1 or not _ADDR_SPEC.fullmatch(found[0][1]):
        raise ValueError(
            'expected one e-mail address on one line, e.g. "ap@acme.com" or "Accounts '
            '<ap@acme.com>" (a name with a comma in double quotes: "\\"Doe, Jane\\" '
            '<jane@acme.com>")'
        )
    return value


EmailAddress = Annotated[str, AfterValidator(_address)]


class Section(BaseModel):
    """A ``[section]`` of the settings: an unknown key is refused."""

    # validate_assignment: a value set in code ("apply" for the mode) becomes the enum it names,
    # and a bad one is refused, as in the file; identity checks on enums then hold.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
