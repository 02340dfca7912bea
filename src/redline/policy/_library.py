"""Shipped policies, loading a policy by name or path, and which file a decision's rules were."""

import hashlib
from pathlib import Path

from redline._files import sha256_file
from redline._records import Record
from redline._yaml import load_yaml_model, named_path, shipped_files
from redline.policy._schema import Policy

DEFAULT_POLICY = "rsp"


def shipped_policies() -> dict[str, Path]:
    """Names and files of the policies redline ships."""
    return shipped_files("redline.policy", "policies")


def load_policy(name_or_path: str | Path = DEFAULT_POLICY) -> Policy:
    """A shipped policy by name (`rsp`, ...) or a policy YAML file by path."""
    path = named_path(name_or_path, shipped_policies(), "policy")
    policy = load_yaml_model(path, Policy)
    policy._origin = path.resolve()
    return policy


class PolicyRef(Record):
    """Which rules decided: the policy, its file, and whether it is the shipped one."""

    id: str
    name: str
    path: str | None = None
    """The policy file (absolute); None for a policy built in memory."""
    sha256: str
    """SHA-256 of the policy file's bytes (in memory: of the policy's JSON)."""
    shipped_sha256: str | None = None
    """SHA-256 of the shipped policy with the same id, if redline ships one."""
    matches_shipped: bool | None = None
    """Whether the rules are byte for byte the shipped policy of this id (None: none shipped)."""

    def describe(self) -> str:
        """One line: which policy, from where, and whether it is the shipped one."""
        where = f"{self.path} (sha256 {self.sha256[:12]})" if self.path else "memory"
        if self.matches_shipped is None:
            return f"policy {self.id} from {where}; redline ships no policy with this id"
        same = "is" if self.matches_shipped else "differs from"
        return f"policy {self.id} from {where} {same} the shipped {self.id}"


def policy_ref(policy: Policy) -> PolicyRef:
    """Provenance of a policy's rules."""
    shipped = shipped_policies().get(policy.id)
    shipped_sha = sha256_file(shipped) if shipped else None
    if policy.origin is not None:
        sha = sha256_file(policy.origin)
    else:
        sha = hashlib.sha256(policy.model_dump_json().encode()).hexdigest()
    return PolicyRef(
        id=policy.id,
        name=policy.name,
        path=str(policy.origin) if policy.origin else None,
        sha256=sha,
        shipped_sha256=shipped_sha,
        matches_shipped=None if shipped_sha is None else sha == shipped_sha,
    )
