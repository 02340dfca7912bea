"""Ed25519 signatures over canonical JSON, the local signing key, and the trust store.

Canonical JSON: a JSON object without its `signature` field, keys sorted at every level, no
insignificant whitespace (separators `,` and `:`), non-ASCII characters kept as UTF-8, encoded as
UTF-8 bytes. A signature covers exactly those bytes. A signature proves who signed only if the
verifier trusts the key: the trust store (`trusted-keys.yaml` in the user's redline config
directory) lists the keys this machine trusts. The signing key made on this machine is added to
it when it is first used.
"""

import base64
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, field_validator

from redline._files import write_atomic
from redline._records import Record, Strict
from redline._yaml import load_yaml_model
from redline.errors import RedlineError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRIVATE_KEY = "report-signing.key"
PUBLIC_KEY = "report-signing.pub"
TRUST_STORE = "trusted-keys.yaml"


class Signature(Record):
    """Ed25519 signature over the canonical JSON of the signed object without this block."""

    algorithm: Literal["ed25519"] = "ed25519"
    public_key: str
    """Raw 32-byte public key, base64."""
    key_id: str
    """First 16 hex digits of the public key's SHA-256."""
    value: str
    """The 64-byte signature, base64."""


def canonical_json(data: dict[str, Any]) -> bytes:
    """The signed bytes: `data` without `signature`, sorted keys, no whitespace, UTF-8."""
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def default_key_dir() -> Path:
    """Where the signing key pair and the trust store live: the user's redline config dir."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("redline"))


def key_id(public_raw: bytes) -> str:
    """Short identifier of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def b64(data: bytes) -> str:
    """Base64 text of bytes."""
    return base64.b64encode(data).decode("ascii")


def public_raw(key: "Ed25519PrivateKey") -> bytes:
    """The raw 32-byte public key of a private key."""
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_or_create_key(folder: Path | None = None) -> "Ed25519PrivateKey":
    """The Ed25519 private key in `folder`, created (mode 0600) on first use.

    The key is added to the trust store in the same folder unless the store already has a
    record of it (trusted or revoked), so what this machine signs, it verifies.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = folder or default_key_dir()
    path = folder / PRIVATE_KEY
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as ex:
            raise RedlineError(f"{path}: not a PEM private key: {ex}") from ex
        if not isinstance(key, Ed25519PrivateKey):
            raise RedlineError(f"{path}: not an Ed25519 key")
    else:
        key = Ed25519PrivateKey.generate()
        folder.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        write_atomic(folder / PUBLIC_KEY, b64(public_raw(key)) + "\n")
    store = TrustStore.load(folder)
    if store.find(key_id(public_raw(key))) is None:
        store.add(public_raw(key), f"signing key made on this machine ({path})").save(folder)
    return key


def sign(data: dict[str, Any], key_dir: Path | None = None) -> Signature:
    """A signature of `data` (a JSON object; its `signature` field is left out) by the local key."""
    key = load_or_create_key(key_dir)
    public = public_raw(key)
    return Signature(
        public_key=b64(public), key_id=key_id(public), value=b64(key.sign(canonical_json(data)))
    )


def signature_matches(data: dict[str, Any], signature: Signature) -> bool:
    """Whether `signature` is a valid signature of `data` by the key it names."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = base64.b64decode(signature.public_key, validate=True)
        if key_id(public) != signature.key_id:
            return False
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(signature.value, validate=True), canonical_json(data)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def read_public_key(path: Path) -> bytes:
    """A raw Ed25519 public key from a file holding its base64 (a `.pub` file)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        raw = base64.b64decode(text, validate=True)
    except (OSError, ValueError) as ex:
        raise RedlineError(f"{path}: not a base64 public key: {ex}") from ex
    if len(raw) != 32:
        raise RedlineError(f"{path}: an Ed25519 public key has 32 bytes, this has {len(raw)}")
    return raw


# ------------------------------------------------------------------ trust store


class TrustedKey(Strict):
    """A public key the user trusts to sign reports, decisions and determinations."""

    key_id: str
    public_key: str
    """Raw 32-byte Ed25519 public key, base64."""
    name: str = Field(min_length=1)
    """Whose key it is."""
    added: dt.date
    revoked: dt.date | None = None
    """Set by `redline keys revoke`: the key is no longer trusted."""

    @field_validator("public_key")
    @classmethod
    def _is_a_key(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as ex:
            raise ValueError(f"not base64: {ex}") from ex
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key has 32 bytes, this has {len(raw)}")
        return value


class TrustStore(Strict):
    """The trust store file: every key the user has trusted or revoked."""

    keys: list[TrustedKey] = []

    @classmethod
    def load(cls, folder: Path | None = None) -> "TrustStore":
        """The trust store in `folder` (default: the user's config dir); empty if none yet."""
        path = (folder or default_key_dir()) / TRUST_STORE
        return cls.read(path) if path.exists() else cls()

    @classmethod
    def read(cls, path: Path) -> "TrustStore":
        """A trust store file (also the format of `--trusted-keys FILE`)."""
        store = load_yaml_model(path, cls)
        for i, k in enumerate(store.keys):
            if key_id(base64.b64decode(k.public_key)) != k.key_id:
                raise RedlineError(f"{path}: keys.{i}.key_id: does not match its public_key")
        return store

    def save(self, folder: Path | None = None) -> Path:
        """Write the store (atomically) to `folder`."""
        data = self.model_dump(mode="json")
        return write_atomic((folder or default_key_dir()) / TRUST_STORE, yaml.safe_dump(data))

    def find(self, kid: str) -> TrustedKey | None:
        """The record of a key by id, trusted or revoked."""
        return next((k for k in self.keys if k.key_id == kid), None)

    def trusted(self, kid: str) -> TrustedKey | None:
        """The record of a key by id if it is trusted (not revoked)."""
        found = self.find(kid)
        return found if found is not None and found.revoked is None else None

    def add(self, public: bytes, name: str) -> "TrustStore":
        """The store with `public` trusted (again, if it was revoked)."""
        kid = key_id(public)
        entry = TrustedKey(
            key_id=kid, public_key=b64(public), name=name, added=dt.datetime.now(dt.UTC).date()
        )
        return TrustStore(keys=[*(k for k in self.keys if k.key_id != kid), entry])

    def revoke(self, kid: str) -> "TrustStore":
        """The store with the key `kid` (an id or its unique prefix) marked revoked."""
        matches = [k for k in self.keys if k.key_id.startswith(kid)] if kid else []
        if len(matches) != 1:
            known = ", ".join(k.key_id for k in self.keys) or "none"
            what = "no key" if not matches else "more than one key"
            raise RedlineError(f"{what} with id {kid!r} in the trust store (keys: {known})")
        today = dt.datetime.now(dt.UTC).date()
        return TrustStore(
            keys=[
                k.model_copy(update={"revoked": today}) if k is matches[0] else k for k in self.keys
            ]
        )

    def merged(self, other: "TrustStore") -> "TrustStore":
        """Both stores' keys; a key revoked in either stays revoked."""
        keys = {k.key_id: k for k in self.keys}
        for k in other.keys:
            if k.key_id not in keys or k.revoked is not None:
                keys[k.key_id] = k
        return TrustStore(keys=list(keys.values()))
