"""``run_recon.py sandbox`` and ``generate``: serve the emulators, write a scenario world.

Neither reads the settings or touches a store: they are the sandbox's own commands, registered
on the CLI's ``app`` by ``recon.cli``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from recon.errors import ConfigError


def sandbox(
    world: Annotated[Path | None, typer.Option(help="serve this world file")] = None,
    seed: Annotated[int, typer.Option(help="generate a world with this seed")] = 7,
    returns: Annotated[int, typer.Option(min=0, help="number of Loop returns to generate")] = 300,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    shopify_port: Annotated[int, typer.Option(min=0, max=65535, help="0: any free port")] = 8701,
    loop_port: Annotated[int, typer.Option(min=0, max=65535, help="0: any free port")] = 8702,
    error_rate: Annotated[float, typer.Option(help="share of requests answered 5xx")] = 0.0,
    latency: Annotated[float, typer.Option(help="seconds added to every answer")] = 0.0,
    drop_write_rate: Annotated[
        float, typer.Option(help="share of writes applied but never answered")
    ] = 0.0,
    throttle_storm: Annotated[bool, typer.Option(help="answer every query THROTTLED")] = False,
    throttled_status: Annotated[int, typer.Option(help="HTTP status of THROTTLED: 200|429")] = 200,
    cost_multiplier: Annotated[float, typer.Option(help="scale Shopify's query cost")] = 1.0,
) -> None:
    """Serve the Shopify and Loop emulators on localhost until Ctrl-C (faults optional)."""
    faults = _faults(
        error_rate=error_rate,
        latency_seconds=latency,
        drop_write_rate=drop_write_rate,
        throttle_storm=throttle_storm,
        throttled_status=throttled_status,
        cost_multiplier=cost_multiplier,
    )
    from recon.sandbox.server import serve_until_interrupted  # once the options are checked

    serve_until_interrupted(
        world_path=world,
        seed=seed,
        returns=returns,
        host=host,
        shopify_port=shopify_port,
        loop_port=loop_port,
        console=Console(),
        faults=faults,
    )


def _faults(**options: Any) -> Any:
    """The sandbox's faults from its options; a bad one is exit 2 naming the option.

    Raises:
        ConfigError: an option is out of range.
    """
    from pydantic import ValidationError

    from recon.config import FaultSettings
    from recon.sandbox.faults import Faults

    try:
        settings = FaultSettings(**options)
    except ValidationError as exc:
        flags = {"latency_seconds": "latency"}  # the one option named unlike its setting
        problems = [
            f"--{flags.get(str(e['loc'][0]), str(e['loc'][0])).replace('_', '-')}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigError("sandbox: " + "; ".join(problems)) from None
    return Faults(**settings.model_dump())


def generate(
    out: Annotated[Path, typer.Option(help="where to write the world JSON")] = Path(
        "var/world.json"
    ),
    seed: Annotated[int, typer.Option()] = 7,
    returns: Annotated[int, typer.Option(min=0)] = 300,
) -> None:
    """Write a scenario world file and its ground truth beside it (world.json: world.truth.json).

    \f
    Raises:
        ConfigError: ``--out`` cannot be written (a directory, or under a file).
    """
    from recon.sandbox.generator import write_scenario

    try:
        world_path, truth = write_scenario(out, seed=seed, returns=returns)
    except OSError as exc:
        raise ConfigError(f"--out: cannot write {out} ({exc.strerror or exc})") from None
    Console().print(f"world: {world_path}\ntruth: {truth}")
