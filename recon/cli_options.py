"""Options the command line's sub-commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (default config/recon.toml)"),
]


def cli_actor() -> str:
    """Who is deciding, for the audit trail: ``cli:<login name>``, or ``cli:uid-<n>`` when the
    user id has no name (a container run as an arbitrary uid: no passwd entry, no ``USER``),
    where ``getpass.getuser`` raises (KeyError on 3.11, OSError from 3.13) and the decision
    would be lost to a traceback."""
    import getpass
    import os

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"
