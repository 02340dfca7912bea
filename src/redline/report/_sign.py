"""Signing and verifying reports: Ed25519 over canonical JSON, and the hashes of cited logs.

Canonical JSON: the report as a JSON object without its `signature` field, keys sorted at
every level, no insignificant whitespace (separators `,` and `:`), non-ASCII characters kept
as UTF-8, encoded as UTF-8 bytes. The signature covers exactly those bytes.
"""

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from redline._files import sha256_file
from redline.errors import RedlineError
from redline.report._model import Report, Signature

PRIVATE_KEY = "report-signing.key"
PUBLIC_KEY = "report-signing.pub"


def canonical_json(data: dict[str, Any]) -> bytes:
    """The signed bytes: `data` without `signature`, sorted keys, no whitespace, UTF-8."""
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def default_key_dir() -> Path:
    """Where the signing key pair lives: the user's redline config directory."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("redline"))


def load_or_create_key(folder: Path | None = None) -> Any:
    """The Ed25519 private key in `folder`, created (mode 0600) on first use."""
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
        return key
    key = Ed25519PrivateKey.generate()
    folder.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    (folder / PUBLIC_KEY).write_text(_b64(_public_raw(key)) + "\n", encoding="utf-8")
    return key


def _public_raw(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    raw: bytes = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_id(public_raw: bytes) -> str:
    """Short identifier of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def sign_report(report: Report, key_dir: Path | None = None) -> Report:
    """The report with its signature block filled in."""
    key = load_or_create_key(key_dir)
    data = report.model_copy(update={"signature": None}).model_dump(mode="json")
    public = _public_raw(key)
    signature = Signature(
        public_key=_b64(public), key_id=key_id(public), value=_b64(key.sign(canonical_json(data)))
    )
    return report.model_copy(update={"signature": signature})


class Verification(BaseModel):
    """The outcome of `redline verify`: every check that failed, one line each."""

    report: str
    key_id: str | None
    signature_ok: bool
    logs_checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when the signature verifies and every cited log matches its hash."""
        return self.signature_ok and not self.problems


def _read_public_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="utf-8").strip()
        raw = base64.b64decode(text, validate=True)
    except (OSError, ValueError) as ex:
        raise RedlineError(f"{path}: not a base64 public key: {ex}") from ex
    if len(raw) != 32:
        raise RedlineError(f"{path}: an Ed25519 public key has 32 bytes, this has {len(raw)}")
    return raw


def verify_report(path: Path, trusted_key: Path | None = None) -> Verification:
    """Check a report's signature (against `trusted_key` if given) and its cited logs' hashes."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as ex:
        raise RedlineError(f"{path}: no such report") from ex
    except (OSError, ValueError) as ex:
        raise RedlineError(f"{path}: not a JSON report: {ex}") from ex
    if not isinstance(data, dict):
        raise RedlineError(f"{path}: not a JSON report (expected an object)")
    problems: list[str] = []
    try:
        report = Report.model_validate(data)
    except ValidationError as ex:
        first = str(ex).splitlines()
        raise RedlineError(f"{path}: not a redline report: {'; '.join(first[:3])}") from ex
    sig = report.signature
    signature_ok = False
    if sig is None:
        problems.append("signature: the report is not signed")
    else:
        public = base64.b64decode(sig.public_key)
        if trusted_key is not None and _read_public_key(trusted_key) != public:
            problems.append(
                f"signature: signed by key {sig.key_id}, not by the key in {trusted_key}"
            )
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(
                base64.b64decode(sig.value), canonical_json(data)
            )
            signature_ok = True
        except (InvalidSignature, ValueError):
            problems.append("signature: does not match the report's contents (edited or corrupt)")
    base = path.parent
    for log in report.provenance.logs:
        file = Path(log.path) if Path(log.path).is_absolute() else base / log.path
        if not file.is_file():
            problems.append(f"log missing: {log.path}")
        elif sha256_file(file) != log.sha256:
            problems.append(f"log changed: {log.path} (sha256 differs from the report)")
    for cited in report.provenance.files:
        file = Path(cited.path) if Path(cited.path).is_absolute() else base / cited.path
        if file.is_file() and sha256_file(file) != cited.sha256:
            problems.append(f"{cited.name} changed: {cited.path} (sha256 differs from the report)")
    return Verification(
        report=str(path),
        key_id=sig.key_id if sig else None,
        signature_ok=signature_ok and not any(p.startswith("signature") for p in problems),
        logs_checked=len(report.provenance.logs),
        problems=problems,
    )
