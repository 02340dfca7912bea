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
    """Clients allowed in; at least one (here or in `keys_file`) unless `allow_anonymous`."""
    keys_file: Path | None = None
    """A YAML file with more clients (`keys:` and a list as here), e.g. a mounted Kubernetes
    Secret. Both files are re-read when they change and on SIGHUP."""
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
    audit_db: str | None = None
    """PostgreSQL URL of an audit log that every worker and replica appends to, one chain
    (instead of `audit_log`), e.g. postgresql+psycopg://redline:PASSWORD@db/redline."""
    redis_url: str | None = None
    """Redis URL where rate limits and stream caps are kept for every worker and replica
    (none: in this process), e.g. redis://redis:6379/0."""
    shutdown_timeout: float = Field(default=30.0, ge=0)
    """Seconds open streams get to finish when the proxy is told to stop (SIGTERM)."""
    action_constitution: str = "default"
    """The action monitor's constitution: a shipped name or a YAML file (`docs/guard.md`)."""
    allowed_hosts: list[str] = []
    """Hosts the agents behind this proxy may contact, beyond the constitution's own."""

    def check(self, workers: int = 1) -> str:
        """The upstream URL, once the configuration can serve.

        One upstream; keys or anonymous; one audit log; and state that `workers` processes
        share (a JSONL log has one writer; limits kept in each worker would multiply).
        """
        if not self.upstream:
            raise RedlineError("no upstream model: pass --upstream URL or set it in the config")
        if not self.allow_anonymous and not client_keys(self):
            raise RedlineError(
                "no client keys: add keys to the config (`redline guard keygen`) "
                "or pass --no-auth for local testing"
            )
        if self.audit_log and self.audit_db:
            raise RedlineError("audit_log and audit_db: choose one audit log")
        if workers > 1 and self.audit_log:
            raise RedlineError(
                f"--workers {workers}: a JSONL audit log has one writer; "
                "use audit_db (PostgreSQL) for one chain from every worker"
            )
        if workers > 1 and not self.redis_url and client_keys(self):
            raise RedlineError(
                f"--workers {workers}: rate limits and stream caps kept in each worker "
                f"would allow {workers}x each key's limits; set redis_url"
            )
        return self.upstream


class KeysFile(BaseModel):
    """A file of client keys (`keys_file`)."""

    model_config = ConfigDict(extra="forbid")

    keys: list[ClientKey] = []


def client_keys(config: ProxyConfig) -> list[ClientKey]:
    """The config's keys and those of its keys file, read now."""
    extra = load_yaml_model(config.keys_file, KeysFile).keys if config.keys_file else []
    return [*config.keys, *extra]


def load_proxy_config(path: str | Path) -> ProxyConfig:
    """A proxy configuration file."""
    return load_yaml_model(path, ProxyConfig)
