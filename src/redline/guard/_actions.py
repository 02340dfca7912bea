"""The action monitor: each tool call of an agent judged against a constitution of actions.

The content stages judge what a model says; the monitor judges what an agent *does*. A tool
call (its name and arguments) is read as text: the name, then every argument value (JSON
arguments are walked, keys named). An action constitution (YAML, `action_constitutions/`)
lists rules, regular expressions each with a decision and a reason (denylisted commands,
credential files, persistence, disabling logging or the monitor, copying model weights), and
the hosts in scope; a classifier trained with the guard judges what the rules cannot list.

Each call gets one of three decisions, with its reason: `approve`, `reject` (a rule or an
out-of-scope host says so), or `escalate` (a rule or the classifier is unsure: a human or the
next approver decides; with no one to ask, the call is stopped). Rules read every decoded view
of the text (`_normalize.views`), so a base64-wrapped command is read as the command.
"""

import json
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline._yaml import load_named, shipped_files
from redline.guard._backends import Backend
from redline.guard._normalize import views
from redline.guard._verdict import Verdict

Decision = Literal["approve", "reject", "escalate"]
ACTIONS_DIR = "actions"
"""The monitor classifier's folder inside a guard folder."""
DEFAULT_ACTIONS = "default"
MAX_ACTION_CHARS = 20_000
"""Characters of a call's text the monitor reads; a longer call is escalated as a whole."""


class Near(BaseModel):
    """Two patterns found close together, in either order."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    first: str
    second: str
    within: int = Field(ge=0, le=2000)
    """Most characters between the end of one and the start of the other."""

    @property
    def pattern(self) -> str:
        """As one regular expression: `first` then `second`, or `second` then `first`."""
        gap = f"[\\s\\S]{{0,{self.within}}}?"
        return f"(?:{self.first}){gap}(?:{self.second})|(?:{self.second}){gap}(?:{self.first})"


class ActionRule(BaseModel):
    """One rule: any pattern found in a call's text gives the rule's decision."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    decision: Literal["reject", "escalate"]
    reason: str = Field(min_length=1)
    patterns: list[str] = []
    """Regular expressions (Python syntax, case-insensitive)."""
    near: list[Near] = []
    """Pairs of regular expressions that count when found close together, in either order."""
    tools: list[str] = []
    """Tool names the rule applies to (empty: every tool)."""

    @property
    def expressions(self) -> list[str]:
        """Every regular expression the rule searches for: its patterns, then its pairs."""
        return [*self.patterns, *(n.pattern for n in self.near)]

    @model_validator(mode="after")
    def _compiles(self) -> Self:
        if not self.expressions:
            raise ValueError(f"rule {self.id!r} has no patterns and no near pairs")
        for pattern in self.expressions:
            try:
                re.compile(pattern)
            except re.error as ex:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {ex}") from ex
        return self

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        """The expressions, compiled."""
        return [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in self.expressions]


class ActionConstitution(BaseModel):
    """What an agent may not do: rules, the hosts in scope, what the classifier decides."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    schema_version: Literal[1] = 1
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    description: str = ""
    allowed_hosts: list[str] = []
    """Hosts an agent may contact (`*.example.org` matches subdomains); any other is out of
    scope."""
    host_decision: Literal["reject", "escalate"] = "reject"
    classifier_decision: Literal["reject", "escalate"] = "escalate"
    """What a call the classifier flags (and no rule does) gets."""
    rules: list[ActionRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return self

    def in_scope(self, host: str) -> bool:
        """Whether an agent may contact `host`."""
        host = host.lower().strip("[]")
        for allowed in self.allowed_hosts:
            allowed = allowed.lower()
            if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
                return True
        return False


def shipped_action_constitutions() -> dict[str, Path]:
    """Names and files of the action constitutions redline ships."""
    return shipped_files("redline.guard", "action_constitutions")


def load_action_constitution(name_or_path: str | Path = DEFAULT_ACTIONS) -> ActionConstitution:
    """A shipped action constitution by name, or an action constitution YAML file by path."""
    return load_named(
        name_or_path, shipped_action_constitutions(), ActionConstitution, "action constitution"
    )


def _leaves(value: Any, key: str = "") -> list[str]:
    if isinstance(value, Mapping):
        return [t for k, v in value.items() for t in _leaves(v, str(k))]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _leaves(v, key)]
    text = value if isinstance(value, str) else json.dumps(value)  # any int, unlike orjson
    return [f"{key}={text}" if key and not isinstance(value, str) else text]


def action_text(name: str, arguments: Any) -> str:
    """A tool call as the monitor reads it: the tool's name, then each argument value.

    `arguments` may be a mapping (walked: nested values, numbers named by their key) or a
    string (JSON arguments are decoded first; anything else is read as it is).
    """
    if isinstance(arguments, str | bytes):
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            if isinstance(arguments, bytes):
                arguments = arguments.decode(errors="replace")
    return "\n".join([name, *_leaves(arguments)]) if arguments not in (None, "", {}) else name


_URL_HOST = re.compile(
    r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s'\"]+@)?(\[[0-9a-f:]+\]|[^/\s:'\"?#]+)", re.I
)
_NET_COMMAND = re.compile(
    r"\b(?:ssh|scp|sftp|rsync|nc|ncat|netcat|telnet|ftp|ping|nmap|curl|wget|dig|nslookup|host)"
    # up to 16 options, with or without values; a quoted value (`-H 'Host: a b'`) is read to
    # its quote. Bounded and read one way: with `*` and `-{1,2}[\w-]+` (`--x` read as `-` `-x`
    # or `--` `x`), 20,000 characters of `curl -x ` took 5 s and of `wget --x=` minutes
    r"\b(?:\s+-{1,2}\w[\w-]*"
    r"(?:[ =](?:'[^'\n]{0,2000}'|\"[^\"\n]{0,2000}\"|(?!-)[^\s'\"-]\S{0,2000}))?){0,16}"
    r"\s+(?:[\w.-]+@)?([a-z0-9][\w.-]*\.[a-z0-9-]+|\[?[0-9a-f:]*:[0-9a-f:]+\]?)",
    re.I,
)
_CONNECT = re.compile(r"(?:create_connection|connect)\(\s*\(\s*['\"]([^'\"]+)['\"]")


_RESOLVE = re.compile(r"--resolve[ =]['\"]?([\w.-]{1,253}):\d{1,5}:\[?([0-9a-f.:]{2,45})\]?", re.I)
"""curl's `--resolve NAME:PORT:ADDRESS`: requests for NAME go to ADDRESS."""
_NAMESPACE_AUTHORITIES = frozenset(
    {
        "www.w3.org", "maven.apache.org", "schemas.xmlsoap.org", "schemas.microsoft.com",
        "schemas.openxmlformats.org", "schemas.android.com", "purl.org", "xmlns.com",
        "json-schema.org", "www.opengis.net", "docs.oasis-open.org", "ns.adobe.com",
        "xmlns.jcp.org", "java.sun.com", "www.springframework.org", "www.sitemaps.org",
    }
)  # fmt: skip
"""Hosts of well-known XML namespaces and schemas: a URL of theirs used as a name is no contact
(and nobody could receive anything at them)."""
_NAMESPACE_BEFORE = re.compile(
    r"""(xmlns(:[\w.-]{1,40})?\s*=\s*|schemaLocation\s*=\s*|\$schema['"]?\s*:\s*|\{|"""
    r"""['"][\w.-]{0,40}['"]\s*:\s*)['"]?$"""
)
"""What comes before a URL used as a name: an `xmlns` attribute, a schema location, `{` of
ElementTree's `{uri}tag`, or a prefix's entry in a namespace map (`{"m": "http://..."}`)."""


def hosts(text: str) -> list[str]:
    """Hosts a call's text contacts: in URLs, after network commands, in socket connects.

    A name curl is told to resolve (`--resolve app.test:443:127.0.0.1`) is the address it
    maps to: that is the host contacted.
    """
    found = [m.group(1) for m in _URL_HOST.finditer(text) if not _names_a_namespace(text, m)]
    found += [m.group(1) for m in _NET_COMMAND.finditer(text)]
    found += [m.group(1) for m in _CONNECT.finditer(text)]
    mapped = {m.group(1).lower(): m.group(2).lower() for m in _RESOLVE.finditer(text)}
    clean = [h.strip("[].").lower() for h in found]
    return list(dict.fromkeys(mapped.get(h, h) for h in clean if _is_host(h)))


def _names_a_namespace(text: str, url: re.Match[str]) -> bool:
    """Whether a URL names an XML namespace or schema of a well-known authority."""
    if url.group(1).lower() not in _NAMESPACE_AUTHORITIES:
        return False
    line_start = text.rfind("\n", 0, url.start()) + 1
    return bool(_NAMESPACE_BEFORE.search(text, max(line_start, url.start() - 80), url.start()))


def _is_host(text: str) -> bool:
    """A name with a letter, an IPv4 address (four numbers) or an IPv6 one; not "1.2.3"."""
    if ":" in text:
        return True
    if re.search(r"[a-z]", text):
        return True
    return text.count(".") == 3


class ActionVerdict(BaseModel):
    """The monitor's judgement of one tool call."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    tool: str
    decision: Decision
    reason: str
    rule: str | None = None
    """The rule that decided (`out_of_scope_host`, `classifier`, `too_long` or a rule id)."""
    score: float | None = None
    """The classifier's score of the call (None when a rule decided first)."""
    threshold: float | None = None
    hosts: list[str] = []

    @property
    def stopped(self) -> bool:
        """Whether the call is not let through as it stands (rejected or escalated)."""
        return self.decision != "approve"

    def verdict(self) -> Verdict:
        """As a guard verdict (stage `action`), for the proxy's audit and metrics."""
        score = self.score if self.score is not None else (1.0 if self.stopped else 0.0)
        return Verdict(stage="action", score=score, threshold=self.threshold or 0.5,
                       flagged=self.stopped, categories={self.rule or "approve": round(score, 4)},
                       view="raw", part=f"tool call {self.tool}")  # fmt: skip


class ActionMonitor:
    """Judges tool calls: the constitution's rules, its hosts, then the classifier."""

    def __init__(
        self,
        constitution: ActionConstitution,
        classifier: Backend | None,
        threshold: float = 0.5,
        allowed_hosts: list[str] | None = None,
    ) -> None:
        if allowed_hosts:
            merged = [*constitution.allowed_hosts, *allowed_hosts]
            constitution = constitution.model_copy(update={"allowed_hosts": merged})
        self.constitution = constitution
        self.classifier = classifier
        self.threshold = threshold

    def judge(self, name: str, arguments: Any) -> ActionVerdict:
        """The decision on one call, with its reason."""
        text = action_text(name, arguments)
        if len(text) > MAX_ACTION_CHARS:
            reason = f"the call is over {MAX_ACTION_CHARS} characters"
            return ActionVerdict(tool=name, decision="escalate", rule="too_long", reason=reason)
        readings = [v.text for v in views(text)]
        # rules read the text as sent too: a rewriting view (leetspeak turns `$ne` into
        # `sne`) replaces the raw reading, and must not hide a payload the raw text shows
        decided = self._rules(name, [text, *readings])
        named = hosts(text)
        if decided is not None:
            return decided.model_copy(update={"hosts": named})
        outside = [h for h in named if not self.constitution.in_scope(h)]
        if outside:
            c = self.constitution
            return ActionVerdict(tool=name, decision=c.host_decision, rule="out_of_scope_host",
                                 reason=f"contacts a host out of scope: {', '.join(outside)}",
                                 hosts=named)  # fmt: skip
        if self.classifier is None:
            return ActionVerdict(tool=name, decision="approve", reason="no rule applies",
                                 hosts=named)  # fmt: skip
        score = float(max(self.classifier.score(readings).harm))
        if score > self.threshold:
            return ActionVerdict(tool=name, decision=self.constitution.classifier_decision,
                                 rule="classifier", score=score, threshold=self.threshold,
                                 reason=f"resembles actions the monitor stops (score "
                                        f"{score:.2f} over {self.threshold:.2f})",
                                 hosts=named)  # fmt: skip
        return ActionVerdict(tool=name, decision="approve", score=score, threshold=self.threshold,
                             reason="no rule applies and the classifier does not flag it",
                             hosts=named)  # fmt: skip

    def _rules(self, name: str, readings: list[str]) -> ActionVerdict | None:
        escalated: ActionVerdict | None = None
        for rule in self.constitution.rules:
            if rule.tools and name not in rule.tools:
                continue
            for pattern in rule.compiled:
                hit = next((m for r in readings if (m := pattern.search(r))), None)
                if hit is None:
                    continue
                reason = f"{rule.reason} ({hit.group(0).strip()[:80]!r})"
                found = ActionVerdict(tool=name, decision=rule.decision, rule=rule.id,
                                      reason=reason)  # fmt: skip
                if rule.decision == "reject":
                    return found
                escalated = escalated or found
        return escalated
