"""The contract run's fixtures: the API as a real server process, on a database and a Redis
database of its own, seeded with a world to fuzz; the services it calls out to (SMS gateway,
real-name verification, payments) faked in this process.

A real process rather than the suite's in-process app: the app's database engine and Redis
client are process-wide and bound to the event loop that made them, and schemathesis sends its
requests synchronously, which an in-process app would have to run on the suite's own loop.

Backends follow the suite's (see tests/conftest.py):
- `WUJIANG_TEST_DATABASE_URL` set: a fresh `wujiang_fuzz_<hex>` database next to it, dropped at
  the end; else a SQLite file in a temporary directory.
- `WUJIANG_TEST_REDIS_URL` set: the database number just below those the suite's own sessions
  (one per xdist worker) count down through, flushed at the start and the end; else the
  server's in-process stand-in (`memory://`).
A configured but unreachable service skips locally and stops the suite under CI=true.

The run's fixtures are module-scoped: after the module, the ledger the run leaves must verify,
as after every test of the suite."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from core.redis import make_redis
from tests.conftest import (
    TEST_BLIND_INDEX_KEY,
    TEST_DATA_KEYS,
    TEST_LEDGER_HASH_KEY,
    _create_postgres_database,
    _drop_postgres_database,
    _unreachable,
)
from tests.contract.credentials import (
    HOTLINE_KID,
    HOTLINE_SECRET,
    WEBHOOK_SECRET,
    Seeder,
    read_line,
)

ROOT = Path(__file__).resolve().parents[2]
# Tokens outlive the run: the run renews what the fuzzed operations revoke, not what expires.
TOKEN_TTL_SECONDS = 86_400
APPROVAL_THRESHOLD = 25  # the seeded world has one award over it, waiting for approval
STARTUP_SECONDS = 60
SEEDER_SECONDS = 120


# --- the outside world ---------------------------------------------------------------------------


class _OutsideWorld(BaseHTTPRequestHandler):
    """SMS gateway, real-name verification and a Stripe-compatible PaymentIntents API that
    accept everything: the run fuzzes our API, not theirs."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/sms":
            self._json({"ok": True})
        elif self.path == "/verify":
            self._json({"match": True})
        elif self.path == "/v1/payment_intents":
            self._json(_intent(f"pi_{secrets.token_hex(8)}"))
        else:
            self._json({"error": "not found"}, status=404)

    def do_GET(self) -> None:
        intent_id = self.path.removeprefix("/v1/payment_intents/")
        if intent_id != self.path and intent_id:
            self._json(_intent(intent_id))
        else:
            self._json({"error": "not found"}, status=404)

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server's own log says what it called."""


def _intent(intent_id: str) -> dict[str, str]:
    return {
        "id": intent_id,
        "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
        "status": "requires_payment_method",
    }


@pytest.fixture(scope="module")
def outside_world() -> Iterator[str]:
    """The fake outside services' base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OutsideWorld)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- database and Redis --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def fuzz_database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    admin_url = os.environ.get("WUJIANG_TEST_DATABASE_URL")
    if not admin_url:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz-db') / 'wujiang_fuzz.db'}"
        return
    url = await _create_postgres_database(admin_url, prefix="wujiang_fuzz")
    yield url
    await _drop_postgres_database(admin_url, url)


def fuzz_redis_number(configured: int, environ: dict[str, str]) -> int:
    """A Redis database number no other session of the suite uses: the suite's sessions take
    the configured number and, one per xdist worker, those counting down from it; the run of
    each worker takes one of the numbers below those."""
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    return configured - workers - worker


@pytest.fixture(scope="module")
async def fuzz_redis_url() -> AsyncIterator[str]:
    configured = os.environ.get("WUJIANG_TEST_REDIS_URL")
    if not configured:
        yield "memory://"  # the stand-in inside the server process
        return
    parts = urlsplit(configured)
    number = fuzz_redis_number(int(parts.path.lstrip("/") or 0), dict(os.environ))
    if number < 1:
        pytest.exit("no Redis database number left for the contract run", returncode=3)
    url = urlunsplit(parts._replace(path=f"/{number}"))
    client = make_redis(url)
    try:
        await client.flushdb()
    except Exception as exc:
        await client.aclose()
        _unreachable("WUJIANG_TEST_REDIS_URL", exc)
    yield url
    await client.flushdb()
    await client.aclose()


# --- the seeded world ----------------------------------------------------------------------------


@dataclass
class Server:
    """The API under test, and its log (JSON lines: 5xx tracebacks are `http.unhandled_error`)."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int, limit: int = 20_000) -> str:
        """What the server logged from `offset` on, tracebacks unfolded."""
        with self.log.open("rb") as file:
            file.seek(offset)
            lines = file.read().decode("utf-8", "replace").splitlines()
        return "\n".join(_readable(line) for line in lines)[-limit:]


def _readable(line: str) -> str:
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict) or "exception" not in entry:
        return line
    exception = entry.pop("exception")
    return f"{json.dumps(entry, ensure_ascii=False)}\n{exception}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def fuzz_environment(
    fuzz_database_url: str, fuzz_redis_url: str, outside_world: str
) -> dict[str, str]:
    """The server's (and the seeding process's) environment: only our WUJIANG_* settings,
    never the suite's, which point at the suite's own database."""
    base_url = f"http://127.0.0.1:{_free_port()}"
    settings = {
        "WUJIANG_ENV": "test",
        "WUJIANG_DATABASE_URL": fuzz_database_url,
        "WUJIANG_REDIS_URL": fuzz_redis_url,
        "WUJIANG_LEDGER_HASH_KEY": TEST_LEDGER_HASH_KEY,
        "WUJIANG_DATA_KEYS": TEST_DATA_KEYS,
        "WUJIANG_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "WUJIANG_ISSUER": base_url,
        "WUJIANG_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS),
        "WUJIANG_HOTLINE_KEYS": f"{HOTLINE_KID}:{HOTLINE_SECRET}",
        "WUJIANG_SMS_GATEWAY_URL": f"{outside_world}/sms",
        "WUJIANG_SMS_GATEWAY_TOKEN": "contract-sms-token",
        "WUJIANG_VERIFICATION_URL": f"{outside_world}/verify",
        "WUJIANG_VERIFICATION_TOKEN": "contract-verification-token",
        "WUJIANG_PAYMENTS_URL": outside_world,
        "WUJIANG_PAYMENTS_API_KEY": "sk_contract_run",
        "WUJIANG_PAYMENTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WUJIANG_POINTS_APPROVAL_THRESHOLD": str(APPROVAL_THRESHOLD),
        "WUJIANG_LOG_JSON": "true",
        "WUJIANG_LOG_LEVEL": "INFO",
    }
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WUJIANG_")}
    return {**inherited, **settings, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def seeder(
    fuzz_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeder]:
    """Migrate and seed the run's database; afterwards its ledger must verify."""
    log = tmp_path_factory.mktemp("fuzz-seeder") / "seeder.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.contract.seeding"],
            cwd=ROOT,
            env=fuzz_environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
        )
    try:
        assert process.stdout is not None
        line = read_line(process.stdout, SEEDER_SECONDS)
        if not line:
            pytest.fail(f"seeding failed:\n{log.read_text(errors='replace')[-10_000:]}")
        seeder = Seeder(process, json.loads(line))
        yield seeder
        report = seeder.ask("verify")
        assert report["ok"], f"ledger.verify after the contract run: {report['violations']}"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def fuzz_server(
    fuzz_environment: dict[str, str], seeder: Seeder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The API, served by uvicorn in its own process, once it answers /readyz."""
    base_url = fuzz_environment["WUJIANG_ISSUER"]
    log = tmp_path_factory.mktemp("fuzz-server") / "server.log"
    port = urlsplit(base_url).port
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and the project's app
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host=127.0.0.1",
                f"--port={port}",
                "--no-access-log",  # the app logs each request itself
                "--timeout-graceful-shutdown=10",
            ],
            cwd=ROOT,
            env=fuzz_environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(base_url, process, log)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        _stop(process)
    if process.returncode not in (0, -signal.SIGTERM):
        pytest.fail(f"the server exited {process.returncode}:\n{server.log_since(0)[-10_000:]}")


def _wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server never became ready:\n{server.log_since(0)[-10_000:]}")
