"""Guard: constitution -> input and streaming output classifiers, and the screening proxy."""

from redline.guard._audit import AuditCheck, AuditLog, AuditRecord, verify_audit_log
from redline.guard._constitution import (
    DEFAULT_CONSTITUTION,
    Category,
    Constitution,
    load_constitution,
    shipped_constitutions,
)
from redline.guard._guard import (
    DEFAULT_BACKEND,
    Guard,
    Manifest,
    Verdict,
    default_guard_dir,
    train_guard,
)
from redline.guard._keys import ClientKey, hash_key, new_key
from redline.guard._normalize import View, normalize, views
from redline.guard._proxy import create_app
from redline.guard._proxy_config import ProxyConfig, load_proxy_config
from redline.guard._stream import StreamScreen

__all__ = [
    "AuditCheck",
    "AuditLog",
    "AuditRecord",
    "ClientKey",
    "ProxyConfig",
    "create_app",
    "hash_key",
    "load_proxy_config",
    "new_key",
    "verify_audit_log",
    "DEFAULT_BACKEND",
    "DEFAULT_CONSTITUTION",
    "Category",
    "Constitution",
    "Guard",
    "Manifest",
    "StreamScreen",
    "Verdict",
    "View",
    "default_guard_dir",
    "load_constitution",
    "normalize",
    "shipped_constitutions",
    "train_guard",
    "views",
]
