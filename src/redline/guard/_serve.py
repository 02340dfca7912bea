"""Serving the proxy: uvicorn with a header timeout, in one process or several workers.

uvicorn times out idle keep-alive connections but not a client that opens a connection and
sends its headers slowly, or never (the slowloris attack): each such connection is held open
for as long as the client likes. The proxy's protocol closes a connection whose request headers
are not complete within `header_timeout` seconds of its first byte (or of the connection, for
the first request). Body reads are timed by the app itself (`ProxyConfig.body_timeout`).

With `workers` > 1, uvicorn's supervisor binds the socket and starts that many worker
processes (restarting any that dies); each builds its own app from the config and loads the
guard itself. SIGTERM or SIGINT stops them gracefully: no new connections, open streams run to
their end or `shutdown_timeout`, pending audit records are written. SIGHUP is passed to every
worker, which re-reads its keys (uvicorn's own supervisor would restart the workers instead).
Metrics are added up across workers through `PROMETHEUS_MULTIPROC_DIR` (`_metrics`).
"""

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from redline.errors import RedlineError
from redline.guard._guard import Guard
from redline.guard._metrics import MULTIPROC_ENV
from redline.guard._proxy import create_app
from redline.guard._proxy_config import ProxyConfig

WORKER_HEALTHCHECK = 60
"""Seconds a worker has to answer its supervisor's ping before it is killed and replaced.

uvicorn's 5 s counts from the worker's spawn, before the worker has imported the proxy (the
thread that answers starts after that): on a busy machine workers were killed while still
importing, again and again."""


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections whose headers come too slowly.

    The timeout is the server config's `header_timeout` (`ProxyServerConfig`).
    """

    _timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        """Start the clock for a request's headers."""
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        """The headers are in: stop the clock."""
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        timeout: float = getattr(self.config, "header_timeout", 10.0)
        self._timer = self.loop.call_later(timeout, self.transport.close)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _build_app(
    config: ProxyConfig, guard: Guard | Path | None, config_file: Path | None, worker: bool
) -> FastAPI:
    """The proxy app, loading the guard from its folder if not given loaded.

    A worker that cannot build it (a bad guard folder, no audit key) says why and exits with
    uvicorn's startup-failure status, which stops the supervisor instead of restarting it.
    """
    if threading.current_thread() is threading.main_thread():
        # until the app's startup installs the re-read of keys, SIGHUP (a reload the
        # supervisor passes on) must not end the process, as it would by default
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        loaded = guard if isinstance(guard, Guard) else Guard.load(guard or config.guard)
        return create_app(config, loaded, config_file)
    except (RedlineError, OSError) as ex:
        if not worker:
            raise
        print(f"error: {ex}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)


class ProxyServerConfig(uvicorn.Config):
    """uvicorn's configuration of the proxy, with its header timeout.

    Its app is a factory (built in each worker), so all of it pickles for worker processes.
    """

    def __init__(self, header_timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self.header_timeout = header_timeout


def server_config(
    config: ProxyConfig,
    guard: Guard | Path | None,
    host: str,
    port: int,
    workers: int = 1,
    config_file: Path | None = None,
    **extra: Any,
) -> ProxyServerConfig:
    """Uvicorn's configuration for the proxy: its app, header timeout and graceful shutdown.

    `guard` is a loaded guard (one process only) or a guard folder (None: the config's, or the
    default guard) that each worker loads. With `config_file`, keys are re-read as it changes.
    """
    if workers > 1 and isinstance(guard, Guard):
        raise ValueError("several workers load the guard themselves: pass its folder")
    config.check(workers)
    return ProxyServerConfig(
        config.header_timeout,
        app=functools.partial(_build_app, config, guard, config_file, workers > 1), factory=True,
        host=host, port=port, workers=workers, http=HeaderTimeoutProtocol,
        log_level="warning", timeout_graceful_shutdown=config.shutdown_timeout,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK, **extra,
    )  # fmt: skip


class ProxySupervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, passing SIGHUP on to them (keys re-read)."""

    def handle_hup(self) -> None:
        """Tell every worker to re-read its keys; the workers and their streams go on."""
        for process in self.processes:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, signal.SIGHUP)


@contextlib.contextmanager
def _stop_is_success() -> Iterator[None]:
    """A SIGTERM that stopped the server gracefully ends the process with status 0.

    uvicorn raises the signal again once it has shut down, which would end the process as
    killed by it (status -15, or 143 in a shell): as the supervisor of several workers exits 0
    after the same graceful stop, one process does too.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stopped(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(server: ProxyServerConfig) -> None:
    """Serve until SIGTERM or SIGINT: in this process, or in `server.workers` processes.

    Several workers share their metrics through `PROMETHEUS_MULTIPROC_DIR` (a fresh
    directory, or the one set, emptied first).
    """
    if server.workers <= 1:
        with _stop_is_success():
            uvicorn.Server(server).run()
        return
    given = os.environ.get(MULTIPROC_ENV)
    metrics = Path(given) if given else Path(tempfile.mkdtemp(prefix="redline-metrics-"))
    for old in metrics.glob("*.db"):  # values of an earlier run would be added in
        old.unlink()
    os.environ[MULTIPROC_ENV] = str(metrics)
    supervisor = ProxySupervisor(server, sockets=[server.bind_socket()])
    try:
        supervisor.run()
    finally:
        if not given:
            shutil.rmtree(metrics, ignore_errors=True)
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise RedlineError("a worker could not start (its error is above)")


def serve_proxy(
    config: ProxyConfig,
    guard: Guard | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    config_file: Path | None = None,
) -> None:
    """Serve the proxy until stopped (`redline guard serve`)."""
    serve(server_config(config, guard, host, port, workers, config_file))
