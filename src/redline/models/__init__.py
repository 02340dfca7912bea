"""Models redline provides: the embedded SmolLM2 and any GGUF file, run in process by llama.cpp.

Inspect reaches them as `redline/smollm2` and `redline/gguf` (registered through the
`inspect_ai` entry point); this module is the direct API, importable without Inspect.
"""

from redline.models._catalog import (
    EMBEDDED_MODEL,
    GUARDED,
    PROVIDER,
    ModelInfo,
    engine_for,
    list_models,
)
from redline.models._engine import ContinuationScore, GGUFEngine, get_engine
from redline.models._serve import SERVED_NAME, serve_embedded
from redline.models._weights import check_gguf, smollm2_path

__all__ = [
    "EMBEDDED_MODEL",
    "GUARDED",
    "PROVIDER",
    "SERVED_NAME",
    "ContinuationScore",
    "GGUFEngine",
    "ModelInfo",
    "check_gguf",
    "engine_for",
    "get_engine",
    "list_models",
    "serve_embedded",
    "smollm2_path",
]
