"""Client API keys: stored as salted SHA-256 hashes, checked in constant time."""

import hashlib
import hmac
import secrets

from pydantic import BaseModel, ConfigDict, Field, field_validator

HASH_SCHEME = "sha256"
KEY_PREFIX = "rl-"


def hash_key(key: str, salt: str | None = None) -> str:
    """`sha256:SALT:DIGEST` where DIGEST = sha256(SALT || key); a fresh random salt by default.

    Keys are 256-bit random tokens (see `new_key`), so one salted SHA-256 is enough: a slow
    password hash protects guessable secrets, which these are not.
    """
    salt = salt if salt is not None else secrets.token_hex(16)
    digest = hashlib.sha256((salt + key).encode()).hexdigest()
    return f"{HASH_SCHEME}:{salt}:{digest}"


def new_key() -> str:
    """A new random client key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ClientKey(BaseModel):
    """One client allowed through the proxy: a name for logs, its key hash, its rate limit."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(min_length=1)
    """Who holds the key; appears in the audit log and metrics, never the key itself."""
    hash: str
    """`sha256:SALT:DIGEST`, as printed by `redline guard keygen`."""
    requests_per_minute: float = Field(default=60.0, gt=0)
    burst: int | None = Field(default=None, ge=1)
    """Requests allowed at once before the rate applies (default: one minute's worth)."""
    max_streams: int = Field(default=16, ge=1)
    """Streams the key may have open at once (each holds an upstream connection)."""

    @field_validator("hash")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        scheme, _, rest = value.partition(":")
        salt, _, digest = rest.partition(":")
        if scheme != HASH_SCHEME or not salt or len(digest) != 64:
            raise ValueError("must look like sha256:SALT:DIGEST (from `redline guard keygen`)")
        return value

    def matches(self, key: str) -> bool:
        """Whether `key` hashes to this entry (constant-time comparison)."""
        salt = self.hash.split(":")[1]
        return hmac.compare_digest(hash_key(key, salt), self.hash)


def find_key(keys: list[ClientKey], presented: str) -> ClientKey | None:
    """The entry `presented` matches; every entry is checked so timing does not tell which."""
    found = None
    for entry in keys:
        if entry.matches(presented) and found is None:
            found = entry
    return found
