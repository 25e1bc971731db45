"""Command line: ``run_recon.py`` / ``recon``. Catches ReconError in exactly one place."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from recon.errors import ReconError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (default config/recon.toml)")
]


@app.command()
def sandbox(
    world: Annotated[Path | None, typer.Option(help="serve this world file")] = None,
    seed: Annotated[int, typer.Option(help="generate a world with this seed")] = 7,
    returns: Annotated[int, typer.Option(help="number of Loop returns to generate")] = 300,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    shopify_port: Annotated[int, typer.Option()] = 8701,
    loop_port: Annotated[int, typer.Option()] = 8702,
) -> None:
    """Serve the Shopify and Loop emulators on localhost until Ctrl-C."""
    from recon.sandbox.server import serve_until_interrupted

    serve_until_interrupted(
        world_path=world, seed=seed, returns=returns, host=host,
        shopify_port=shopify_port, loop_port=loop_port, console=Console(),
    )


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="where to write the world JSON")] = Path("var/world.json"),
    seed: Annotated[int, typer.Option()] = 7,
    returns: Annotated[int, typer.Option()] = 300,
) -> None:
    """Write a scenario world file and its ground truth (``<out>.truth.json``)."""
    from recon.sandbox.generator import write_scenario

    world_path, truth = write_scenario(out, seed=seed, returns=returns)
    Console().print(f"world: {world_path}\ntruth: {truth}")


def main() -> None:
    """Run the CLI; map recon's errors to exit codes."""
    try:
        app(standalone_mode=False)
    except ReconError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here with standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
