"""Serving the proxy: uvicorn with a header timeout, so idle or slow clients cannot hold it.

uvicorn times out idle keep-alive connections but not a client that opens a connection and
sends its headers slowly, or never (the slowloris attack): each such connection is held open
for as long as the client likes. The proxy's protocol closes a connection whose request headers
are not complete within `header_timeout` seconds of its first byte (or of the connection, for
the first request). Body reads are timed by the app itself (`ProxyConfig.body_timeout`).
"""

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from redline.guard._guard import Guard
from redline.guard._proxy import create_app
from redline.guard._proxy_config import ProxyConfig


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections whose headers come too slowly."""

    header_timeout = 10.0
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
        self._timer = self.loop.call_later(self.header_timeout, self.transport.close)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def server_config(
    config: ProxyConfig, guard: Guard, host: str, port: int, **extra: Any
) -> uvicorn.Config:
    """Uvicorn's configuration for the proxy: its app, and its header timeout."""
    protocol = type(
        "ProxyHTTPProtocol", (HeaderTimeoutProtocol,), {"header_timeout": config.header_timeout}
    )
    return uvicorn.Config(
        create_app(config, guard), host=host, port=port, http=protocol, log_level="warning",
        **extra,
    )  # fmt: skip


def serve_proxy(
    config: ProxyConfig, guard: Guard, host: str = "127.0.0.1", port: int = 8080
) -> None:
    """Serve the proxy until interrupted (`redline guard serve`)."""
    uvicorn.Server(server_config(config, guard, host, port)).run()
