"""Private Redis and PostgreSQL servers for the shared-state tests, started from the Debian
packages' binaries on free loopback ports, so a test may stop and restart them at will and
never touches a server anyone else uses. The binaries are found where `.ci/run` says
(REDLINE_TEST_REDIS_SERVER, REDLINE_TEST_PG_BIN), else on PATH and in Debian's places; a server
that is missing or cannot start skips the tests that need it, saying why."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.guard.upstream_stub import free_port

START_TIMEOUT = 120
"""Seconds a server may take to answer (the machine may be busy)."""


def _wait(ready, proc: "subprocess.Popen[bytes]", what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until `ready()`; a server that exits or does not answer in time is an error."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{what} did not start: {err.strip()[-500:]}")
        time.sleep(0.1)


class RedisServer:
    """redis-server without persistence on a port of its own."""

    def __init__(self) -> None:
        binary = os.environ.get("REDLINE_TEST_REDIS_SERVER") or shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server: .ci/run)")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", tempfile.gettempdir()]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def ready() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        _wait(ready, self.proc, "redis-server")
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
            self.proc = None

    def flush(self) -> None:
        import redis

        with redis.Redis(port=self.port) as client:
            client.flushall()


def _postgres_bin() -> Path | None:
    if given := os.environ.get("REDLINE_TEST_PG_BIN"):
        return Path(given)

    def version(p: Path) -> int:
        name = p.parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=version)
    return found[-1].parent if found else None


class PostgresServer:
    """A PostgreSQL cluster of its own (initdb in a temporary folder, trust on loopback).

    As root it runs as the `postgres` user (PostgreSQL refuses to run as root).
    """

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            pytest.skip("PostgreSQL's server binaries are not installed (.ci/run installs them)")
        self.bin = bin_dir
        self.user = "postgres" if os.geteuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="redline-pg-"))
        if self.user:
            shutil.chown(self.dir, self.user)
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://redline@127.0.0.1:{self.port}/postgres"
        self.proc: subprocess.Popen[bytes] | None = None
        made = subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "redline",
             "--no-sync", "-E", "UTF8"],
            user=self.user, capture_output=True, check=False,
        )  # fmt: skip
        if made.returncode != 0:
            pytest.skip(f"initdb failed: {made.stderr.decode().strip()[-300:]}")

    def start(self) -> None:
        import psycopg

        command = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                   "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
                   "-c", "fsync=off"]  # fmt: skip
        self.proc = subprocess.Popen(
            command, user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        dsn = f"host=127.0.0.1 port={self.port} user=redline dbname=postgres connect_timeout=2"

        def ready() -> bool:
            try:
                psycopg.connect(dsn).close()
                return True
            except psycopg.OperationalError:
                return False

        _wait(ready, self.proc, "postgres")

    def stop(self) -> None:
        """A fast shutdown (SIGINT): open connections are cut."""
        if self.proc is not None:
            self.proc.send_signal(2)
            self.proc.wait(timeout=60)
            self.proc = None

    def reset(self) -> None:
        """Drop the audit tables."""
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user=redline dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS redline_audit, redline_audit_head")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
