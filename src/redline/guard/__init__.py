"""Guard: constitution -> input and streaming output classifiers, and the screening proxy.

The runtime (screening, streaming, the proxy) loads here; training, evaluation and synthesis
load on first use of their names, so a serving process never imports the training data or the
attack transforms that augment it.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from redline.guard._actions import (
    DEFAULT_ACTIONS,
    ActionConstitution,
    ActionMonitor,
    ActionRule,
    ActionVerdict,
    action_text,
    load_action_constitution,
    shipped_action_constitutions,
)
from redline.guard._audit import (
    AUDIT_KEY_ENV,
    AuditCheck,
    AuditLog,
    AuditRecord,
    AuditWriter,
    Repair,
    audit_key,
    repair_audit_log,
    verify_audit_log,
)
from redline.guard._backends import backend, backend_names
from redline.guard._constitution import (
    DEFAULT_CONSTITUTION,
    Category,
    Constitution,
    LanguageSeeds,
    load_constitution,
    load_language_seeds,
    shipped_constitutions,
)
from redline.guard._exchange import Exchanged, GuardedExchange, Screens, ThreadScreens
from redline.guard._guard import MANIFEST, Guard, Manifest, default_guard_dir, load_guard
from redline.guard._keys import ClientKey, hash_key, new_key
from redline.guard._language import Detection, detect
from redline.guard._llm_guard import (
    Band,
    GuardFormat,
    Reviewer,
    SecondStage,
    Turn,
    format_names,
    guard_format,
)
from redline.guard._normalize import View, normalize, views
from redline.guard._proxy import create_app
from redline.guard._proxy_config import ProxyConfig, client_keys, load_proxy_config
from redline.guard._serve import serve_proxy, server_config
from redline.guard._state import Admission, LocalState, SharedState, StateUnavailable
from redline.guard._stream import StreamScreen
from redline.guard._tools import ToolCall, ToolDef
from redline.guard._verdict import STAGES, Screened, Stage, Verdict

if TYPE_CHECKING:
    from redline.guard._approver import monitor_approver
    from redline.guard._audit_db import DatabaseAuditLog, export_audit_db, verify_audit_db
    from redline.guard._data import Example, labelled_examples
    from redline.guard._dedupe import Overlap, drop_overlap
    from redline.guard._evaluate import EvalReport, LabelledText, evaluate, load_eval_data
    from redline.guard._redis_state import RedisState
    from redline.guard._synth import write_synthetic
    from redline.guard._train import (
        DEFAULT_BACKEND,
        DEFAULT_MAX_RECALL_LOSS,
        DEFAULT_PREFILTER,
        DEFAULT_TARGET_FPR,
        train_guard,
    )

_LAZY = {
    "DatabaseAuditLog": "_audit_db",
    "export_audit_db": "_audit_db",
    "verify_audit_db": "_audit_db",
    "RedisState": "_redis_state",
    "monitor_approver": "_approver",
    "Example": "_data",
    "labelled_examples": "_data",
    "Overlap": "_dedupe",
    "drop_overlap": "_dedupe",
    "EvalReport": "_evaluate",
    "LabelledText": "_evaluate",
    "evaluate": "_evaluate",
    "load_eval_data": "_evaluate",
    "write_synthetic": "_synth",
    "DEFAULT_BACKEND": "_train",
    "DEFAULT_MAX_RECALL_LOSS": "_train",
    "DEFAULT_PREFILTER": "_train",
    "DEFAULT_TARGET_FPR": "_train",
    "train_guard": "_train",
}
"""Names whose modules load on first use: training, evaluation and synthesis, and the
proxy's Redis and PostgreSQL clients (a proxy that uses neither never imports them), and the
Inspect approver (which imports Inspect)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"redline.guard.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'redline.guard' has no attribute {name!r}")


__all__ = [
    "DEFAULT_ACTIONS",
    "ActionConstitution",
    "ActionMonitor",
    "ActionRule",
    "ActionVerdict",
    "Screened",
    "ToolCall",
    "ToolDef",
    "action_text",
    "monitor_approver",
    "load_action_constitution",
    "shipped_action_constitutions",
    "AUDIT_KEY_ENV",
    "Repair",
    "audit_key",
    "repair_audit_log",
    "Band",
    "GuardFormat",
    "Overlap",
    "Reviewer",
    "SecondStage",
    "Turn",
    "drop_overlap",
    "format_names",
    "guard_format",
    "DEFAULT_BACKEND",
    "DEFAULT_CONSTITUTION",
    "DEFAULT_MAX_RECALL_LOSS",
    "DEFAULT_PREFILTER",
    "DEFAULT_TARGET_FPR",
    "MANIFEST",
    "STAGES",
    "AuditCheck",
    "AuditLog",
    "AuditRecord",
    "AuditWriter",
    "DatabaseAuditLog",
    "Admission",
    "LocalState",
    "RedisState",
    "SharedState",
    "StateUnavailable",
    "client_keys",
    "export_audit_db",
    "verify_audit_db",
    "Category",
    "ClientKey",
    "Constitution",
    "Detection",
    "EvalReport",
    "Example",
    "Guard",
    "LabelledText",
    "LanguageSeeds",
    "Exchanged",
    "GuardedExchange",
    "Manifest",
    "ProxyConfig",
    "Screens",
    "Stage",
    "StreamScreen",
    "ThreadScreens",
    "Verdict",
    "View",
    "backend",
    "backend_names",
    "create_app",
    "default_guard_dir",
    "detect",
    "evaluate",
    "hash_key",
    "labelled_examples",
    "load_constitution",
    "load_eval_data",
    "load_guard",
    "load_language_seeds",
    "load_proxy_config",
    "new_key",
    "normalize",
    "serve_proxy",
    "server_config",
    "shipped_constitutions",
    "train_guard",
    "verify_audit_log",
    "views",
    "write_synthetic",
]
