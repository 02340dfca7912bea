"""Signing reports and decisions; verifying their signature, signer and cited files.

Verification checks the signature, that the signer's key is trusted, and the hashes of every
file cited (logs, the policy, the evidence file, the guard manifest).

The signature scheme (Ed25519 over canonical JSON) and the trust store are `redline._signing`.
"""

import json
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from redline._files import sha256_file
from redline._signing import TrustStore, b64, read_public_key, sign, signature_matches
from redline.errors import RedlineError
from redline.policy import Decision, PolicyRef, shipped_policies
from redline.report._model import Report

Signed = TypeVar("Signed", Report, Decision)


def sign_record(record: Signed, key_dir: Path | None = None) -> Signed:
    """A report or decision with its signature block filled in by the local key."""
    data = record.model_copy(update={"signature": None}).model_dump(mode="json")
    return record.model_copy(update={"signature": sign(data, key_dir)})


class Verification(BaseModel):
    """The outcome of `redline verify`: who signed, whether they are trusted, what failed."""

    report: str
    kind: Literal["report", "decision"]
    key_id: str | None
    signer: str | None = None
    """The trusted key's name, when the signer is trusted."""
    signature_ok: bool
    trusted: bool = False
    logs_checked: int
    files_checked: int = 0
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when the signature verifies, its key is trusted and every cited file matches."""
        return self.signature_ok and self.trusted and not self.problems


def verify_report(
    path: Path,
    trusted_key: Path | None = None,
    trusted_keys: Path | None = None,
    key_dir: Path | None = None,
) -> Verification:
    """Check a report's or a signed decision's signature, its signer and its cited files.

    The signer must be `trusted_key` when given; otherwise a trusted key of the trust store in
    `key_dir` (default: the user's config dir) or of the `trusted_keys` file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as ex:
        raise RedlineError(f"{path}: no such file") from ex
    except (OSError, ValueError) as ex:
        raise RedlineError(f"{path}: not JSON: {ex}") from ex
    if not isinstance(data, dict) or data.get("kind") not in (
        "redline-assessment",
        "redline-decision",
    ):
        raise RedlineError(f"{path}: not a redline report or decision (no such `kind`)")
    record: Report | Decision
    try:
        if data["kind"] == "redline-assessment":
            record = Report.model_validate(data)
        else:
            record = Decision.model_validate(data)
    except ValidationError as ex:
        first = str(ex).splitlines()
        raise RedlineError(f"{path}: not a valid {data['kind']}: {'; '.join(first[:3])}") from ex
    problems: list[str] = []
    sig = record.signature
    signature_ok = trusted = False
    signer = None
    if sig is None:
        problems.append("signature: not signed")
    else:
        signature_ok = signature_matches(data, sig)
        if not signature_ok:
            problems.append("signature: does not match the contents (edited or corrupt)")
        if trusted_key is not None:
            trusted = b64(read_public_key(trusted_key)) == sig.public_key
            signer = str(trusted_key) if trusted else None
            if not trusted:
                problems.append(
                    f"signature: signed by key {sig.key_id}, not by the key in {trusted_key}"
                )
        else:
            store = TrustStore.load(key_dir)
            if trusted_keys is not None:
                store = store.merged(TrustStore.read(trusted_keys))
            entry = store.find(sig.key_id)
            trusted = (
                entry is not None and entry.revoked is None and entry.public_key == sig.public_key
            )
            signer = entry.name if trusted and entry else None
            if entry is not None and entry.revoked is not None:
                problems.append(
                    f"signature: signed by key {sig.key_id}, revoked on {entry.revoked}"
                )
            elif not trusted:
                problems.append(
                    f"signature: signed by key {sig.key_id}, which is not trusted "
                    "(`redline keys trust KEY.pub`, or --trusted-keys FILE)"
                )
    base = path.parent
    files = 0
    if isinstance(record, Report):
        logs = [(log.path, log.sha256) for log in record.provenance.logs]
        cited = [(f.name, f.path, f.sha256) for f in record.provenance.files if f.name != "policy"]
        decision = record.decision
    else:
        logs = [(log.path, log.sha256) for log in record.logs]
        cited = [("evidence", e.path, e.sha256) for e in [record.evidence] if e is not None]
        decision = record
    for log_path, sha in logs:
        file = _resolve(log_path, base)
        if not file.is_file():
            problems.append(f"log missing: {log_path}")
        elif sha256_file(file) != sha:
            problems.append(f"log changed: {log_path} (sha256 differs from the {_kind(record)})")
    for name, cited_path, sha in cited:
        files += 1
        file = _resolve(cited_path, base)
        if not file.is_file():
            problems.append(f"{name} missing: {cited_path}")
        elif sha256_file(file) != sha:
            problems.append(
                f"{name} changed: {cited_path} (sha256 differs from the {_kind(record)})"
            )
    files += 1
    problem = _check_policy(decision.policy, base)
    if problem:
        problems.append(problem)
    return Verification(
        report=str(path),
        kind=_kind(record),
        key_id=sig.key_id if sig else None,
        signer=signer,
        signature_ok=signature_ok,
        trusted=trusted,
        logs_checked=len(logs),
        files_checked=files,
        problems=problems,
    )


def _kind(record: Report | Decision) -> Literal["report", "decision"]:
    return "report" if isinstance(record, Report) else "decision"


def _resolve(cited: str, base: Path) -> Path:
    """A cited path: absolute, or relative to the signed file's folder (else the working dir)."""
    path = Path(cited)
    if path.is_absolute():
        return path
    return base / path if (base / path).exists() else path


def _check_policy(ref: PolicyRef, base: Path) -> str | None:
    """Why the policy a decision cites does not match it, or None.

    A missing file is fine when the decision used the shipped policy and this redline ships the
    same bytes under that id.
    """
    if ref.path is not None:
        file = _resolve(ref.path, base)
        if file.is_file():
            if sha256_file(file) != ref.sha256:
                return f"policy changed: {ref.path} (sha256 differs from the decision)"
            return None
    shipped = shipped_policies().get(ref.id)
    if ref.matches_shipped and shipped is not None and sha256_file(shipped) == ref.sha256:
        return None
    return f"policy missing: {ref.path or ref.id} (cannot check its sha256)"
