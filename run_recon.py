#!/usr/bin/env python3
"""Entry point: the same CLI as the ``recon`` console script."""

from recon.cli import main

if __name__ == "__main__":
    main()
