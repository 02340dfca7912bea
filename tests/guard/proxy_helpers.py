"""Running the proxy on a loopback port for tests, with one client key."""

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai

from redline.guard import ClientKey, Guard, ProxyConfig, Stage, Verdict, create_app, hash_key
from tests.guard.upstream_stub import serving

KEY = "rl-test-client-key"
UPSTREAM_KEY = "sk-upstream-secret-value"
UPSTREAM_KEY_ENV = "REDLINE_TEST_UPSTREAM_KEY"
AUDIT_KEY = "test-audit-key-0123456789abcdef"
AUDIT_KEY_ENV = "REDLINE_TEST_AUDIT_KEY"
os.environ.setdefault(AUDIT_KEY_ENV, AUDIT_KEY)


class RecordingGuard(Guard):
    """A real trained guard that records the batches it is asked to classify."""

    def __init__(self, guard: Guard, fail: bool = False) -> None:
        super().__init__(guard.manifest, guard.backends, guard.prefilters)
        self.calls: list[tuple[str, list[str]]] = []
        self.threads: list[str] = []
        self.fail = fail

    def judge(self, texts: Sequence[str], stage: Stage) -> list[Verdict]:
        self.calls.append((stage, list(texts)))
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("classifier crashed")
        return super().judge(texts, stage)


def with_bar(guard: Guard, escalate_at: float) -> RecordingGuard:
    """The guard with its output prefilter's bar moved, recording what its classifier judges."""
    manifest = guard.manifest.model_copy(deep=True)
    info = manifest.stages["output"].prefilter
    assert info is not None
    info.escalate_at = escalate_at
    return RecordingGuard(Guard(manifest, guard.backends, guard.prefilters))


def proxy_config(upstream: str, audit: Path | None = None, **changes: Any) -> ProxyConfig:
    settings: dict[str, Any] = {
        "upstream": upstream,
        "upstream_api_key_env": UPSTREAM_KEY_ENV,
        "keys": [ClientKey(name="tester", hash=hash_key(KEY), requests_per_minute=6000)],
        "audit_log": audit,
        "audit_key_env": AUDIT_KEY_ENV,
        # fixed 2-token windows: the toy "blue" guard scores the whole answer so far, and in
        # windows of 8 or more tokens the word is diluted below its threshold (measured: a
        # best score of 0.39-0.43 against 0.435), so only fine windows make the cut certain
        "stream_every": 2,
        "stream_every_max": 2,
    }
    return ProxyConfig(**{**settings, **changes})


@contextmanager
def running_proxy(config: ProxyConfig, guard: Guard) -> Iterator[str]:
    """The proxy's base URL (…/v1)."""
    with serving(create_app(config, guard)) as url:
        yield url + "/v1"


def client(base_url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60)


def stream_text(base_url: str, content: str, **params: Any) -> tuple[list[str], str | None]:
    """Stream a one-message chat; the content pieces and the last finish_reason."""
    pieces, finish = [], None
    stream = client(base_url).chat.completions.create(
        model="m", messages=[{"role": "user", "content": content}], stream=True, **params
    )
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            finish = choice.finish_reason or finish
    return pieces, finish
