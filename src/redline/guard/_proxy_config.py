"""Configuration of the guard proxy, read from YAML."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from redline._refusal import REFUSAL
from redline._yaml import load_yaml_model
from redline.errors import RedlineError
from redline.guard._audit import AUDIT_KEY_ENV
from redline.guard._keys import ClientKey
from redline.guard._stream import DEFAULT_EVERY

DEFAULT_EVERY_MAX = 32

DEFAULT_UPSTREAM_KEY_ENV = "REDLINE_UPSTREAM_API_KEY"


class ProxyConfig(BaseModel):
    """What `redline guard serve --config FILE` reads; command-line options override it."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    upstream: str | None = None
    """Base URL of the OpenAI-compatible model server, e.g. http://127.0.0.1:8081/v1."""
    upstream_api_key_env: str = DEFAULT_UPSTREAM_KEY_ENV
    """Environment variable holding the upstream's API key (unset: no key is sent)."""
    guard: Path | None = None
    """Guard folder (default: the trained default guard)."""
    keys: list[ClientKey] = []
    """Clients allowed in; at least one unless `allow_anonymous`."""
    allow_anonymous: bool = False
    """Serve without client keys (local testing only)."""
    refusal: str = REFUSAL
    """The text a blocked request or stream gets."""
    stream_every: int = Field(default=DEFAULT_EVERY, ge=1)
    """Upstream tokens before a stream's first output screen."""
    stream_every_max: int = Field(default=DEFAULT_EVERY_MAX, ge=1)
    """Tokens between later screens: the window doubles after each screen up to this, the
    most a stream holds back (at least `stream_every`)."""
    max_request_bytes: int = Field(default=1_000_000, ge=1024)
    header_timeout: float = Field(default=10.0, gt=0)
    """Seconds a client has to send a request's headers, once it starts one (`guard serve`)."""
    body_timeout: float = Field(default=30.0, gt=0)
    """Seconds a client has to send a request's body."""
    connect_timeout: float = Field(default=5.0, gt=0)
    timeout: float = Field(default=120.0, gt=0)
    """Seconds to wait for the upstream's response, or for each chunk of a stream."""
    audit_log: Path | None = None
    """JSONL audit log to append to (none: no audit log)."""
    audit_key_env: str = AUDIT_KEY_ENV
    """Environment variable holding the audit key: it keys the input hashes and authenticates
    the log's head (required with `audit_log`)."""
    audit_texts: bool = False
    """Keep the full screened input, released output and upstream error texts in the audit
    log."""
    action_constitution: str = "default"
    """The action monitor's constitution: a shipped name or a YAML file (`docs/guard.md`)."""
    allowed_hosts: list[str] = []
    """Hosts the agents behind this proxy may contact, beyond the constitution's own."""

    def check(self) -> str:
        """The upstream URL, once the configuration can serve: one upstream, keys or anonymous."""
        if not self.upstream:
            raise RedlineError("no upstream model: pass --upstream URL or set it in the config")
        if not self.keys and not self.allow_anonymous:
            raise RedlineError(
                "no client keys: add keys to the config (`redline guard keygen`) "
                "or pass --no-auth for local testing"
            )
        return self.upstream


def load_proxy_config(path: str | Path) -> ProxyConfig:
    """A proxy configuration file."""
    return load_yaml_model(path, ProxyConfig)
