"""Re-record the contract cassettes against the sandbox, then check them for secrets.

Usage (from the repository root)::

    .venv/bin/python tests/contract/record_cassettes.py

This is the same as ``RECON_RECORD=1 .venv/bin/pytest tests/contract/test_loop_contract.py
tests/contract/test_shopify_contract.py`` followed by the hygiene test. Recording starts the
sandbox on the inline contract world (``conftest.contract_world``), deletes each cassette and
writes it afresh with hosts rewritten to ``sandbox.invalid`` and credentials removed. Re-record
when a GraphQL document, a client's paging or the emulators' wire format changes; review the
diff of ``tests/cassettes/`` before committing it. In CI the cassettes are only replayed
(``record_mode="none"``): a request that matches no recording fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDED = ("test_loop_contract.py", "test_shopify_contract.py")


def main() -> int:
    """Record, then replay everything once with the hygiene check; the exit status is pytest's."""
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    env = {**os.environ, "RECON_RECORD": "1"}
    # S603: fixed arguments, this interpreter and this directory's own test files.
    recorded = subprocess.run(  # noqa: S603
        [*pytest, *(str(HERE / name) for name in RECORDED)], env=env, check=False
    )
    if recorded.returncode != 0:
        return recorded.returncode
    replay_env = {k: v for k, v in os.environ.items() if k != "RECON_RECORD"}
    return subprocess.run([*pytest, str(HERE)], env=replay_env, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
