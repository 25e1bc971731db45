"""The sandbox over real HTTP: SandboxServer in-process, and ``run_recon.py sandbox`` as a process.

The world is two Loop returns (one an hour old, one cancelled) on two Shopify orders, written
inline so the expected answers can be read off this file.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from recon.clock import VirtualClock
from recon.sandbox.server import SandboxServer
from recon.sandbox.state import LOOP_API_KEY, SHOPIFY_TOKEN, SandboxState
from recon.sandbox.world import World
from recon.sandbox.world_io import dump_world, parse_world

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _order(order_id: str, name: str) -> dict:
    return {
        "id": order_id,
        "name": name,
        "created_at": "2026-10-20T09:00:00Z",
        "updated_at": "2026-10-20T09:00:00Z",
        "currency": "USD",
        "presentment_currency": "USD",
        "line_items": [{"id": order_id + "1", "sku": "TEE", "quantity": 1, "price": "50.00"}],
    }


def _return(return_id: str, order_id: str, name: str, state: str) -> dict:
    return {
        "id": return_id,
        "state": state,
        "created_at": "2026-11-01T11:00:00Z",
        "updated_at": "2026-11-01T11:00:00Z",
        "outcome": "refund",
        "order_id": "9" + return_id,
        "provider_order_id": order_id,
        "order_name": name,
        "currency": "USD",
        "total": "50.00",
        "refund": "50.00",
        "line_items": [
            {
                "line_item_id": return_id + "0",
                "provider_line_item_id": order_id + "1",
                "price": "50.00",
                "refund": "50.00",
                "returned_at": "2026-11-01T11:00:00Z",
            }
        ],
    }


def small_world() -> World:
    return parse_world(
        {
            "now": NOW.isoformat(),
            "shop": {"locations": [{"id": "71234567890", "name": "Main"}]},
            "orders": [_order("5001", "#1001"), _order("5002", "#1002")],
            "loop_returns": [
                _return("701", "5001", "#1001", "closed"),
                _return("702", "5002", "#1002", "cancelled"),
            ],
        }
    )


def _shopify_available() -> bool:
    try:
        from recon.sandbox.shopify import create_shopify_app  # noqa: F401
    except ImportError:
        return False
    return True


def test_loop_over_real_http_on_a_free_port():
    state = SandboxState(small_world(), clock=VirtualClock(NOW))
    with SandboxServer(state, serve_shopify=_shopify_available()) as server:
        assert server.loop_base_url.startswith("http://127.0.0.1:")
        assert not server.loop_base_url.endswith(":0/api")
        url = f"{server.loop_base_url}/2026-07/warehouse/return/list"
        headers = {"X-Authorization": server.loop_api_key}
        response = httpx.get(url, headers=headers, params={"state": "cancelled"}, timeout=10)
        refused = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == ["702"]
    assert refused.status_code == 401
    with pytest.raises(httpx.ConnectError):  # stopped means the port is closed
        httpx.get(url, headers=headers, timeout=2)


def test_shopify_over_real_http_shares_the_same_world():
    if not _shopify_available():
        pytest.skip("recon.sandbox.shopify.create_shopify_app is not written yet")
    state = SandboxState(small_world(), clock=VirtualClock(NOW))
    with SandboxServer(state) as server:
        assert server.shopify_token == SHOPIFY_TOKEN
        response = httpx.post(
            f"{server.shopify_base_url}/admin/api/2026-04/graphql.json",
            headers={"X-Shopify-Access-Token": server.shopify_token},
            json={"query": '{ order(id: "gid://shopify/Order/5001") { name } }'},
            timeout=30,
        )
    assert response.status_code == 200
    assert response.json()["data"]["order"]["name"] == "#1001"


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _wait_for(lines: queue.Queue, prefix: str) -> str:
    while True:
        line = lines.get(timeout=60)
        assert line is not None, f"sandbox exited before printing {prefix!r}"
        if line.startswith(prefix):
            return line


@pytest.mark.slow
def test_run_recon_sandbox_serves_until_sigint_then_exits_0(tmp_path):
    world_file = tmp_path / "world.json"
    dump_world(small_world(), world_file)
    command = [
        sys.executable,
        "run_recon.py",
        "sandbox",
        "--world",
        str(world_file),
        "--shopify-port",
        "0",
        "--loop-port",
        "0",
    ]
    with subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            base_url = _wait_for(lines, "loop:").split()[1]
            assert not base_url.endswith(":0/api")  # port 0 prints the port really bound
            _wait_for(lines, "press Ctrl-C")
            response = httpx.get(
                f"{base_url}/v1/warehouse/return/list",
                headers={"X-Authorization": LOOP_API_KEY},
                params={"to": "2026-11-02"},
                timeout=10,
            )
            process.send_signal(signal.SIGINT)
            exit_code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            reader.join(timeout=10)  # the pipe closes with the `with`; let the reader finish first
        stderr = process.stderr.read() if process.stderr else ""
    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == ["701"]  # cancelled needs state=cancelled
    assert exit_code == 0, stderr
