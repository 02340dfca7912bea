"""Compiling the C challenges with gcc on the machine running the eval.

The executable is built here and written into the sandbox, so the sandbox needs no
compiler. It is linked statically when the C library allows it, so that it also runs in
the Docker sandbox (a Linux container of the same architecture).
"""

import tempfile
from pathlib import Path

from inspect_ai.util import subprocess

from redline.evals.cyber.base import BuildError, put, run


async def compile_c(source: str) -> bytes:
    """The executable gcc makes of `source` (-O0, symbols kept; static if possible)."""
    with tempfile.TemporaryDirectory(prefix="redline-cyber-") as tmp:
        src, exe = Path(tmp) / "main.c", Path(tmp) / "main"
        src.write_text(source, encoding="utf-8")
        errors: list[str] = []
        for link in (["-static"], []):
            result = await subprocess(["gcc", "-O0", *link, "-o", str(exe), str(src)], timeout=120)
            if result.success:
                return exe.read_bytes()
            errors = result.stderr.strip().splitlines()
        raise BuildError(f"gcc failed: {errors[-1] if errors else 'no output'}")


async def put_executable(path: str, source: str) -> None:
    """Compile `source` and write the executable to `path` in the sandbox."""
    await put(path, await compile_c(source))
    await run(["chmod", "755", path])


def c_bytes(data: bytes) -> str:
    """Bytes as the body of a C array initialiser."""
    return ", ".join(f"0x{b:02x}" for b in data)
