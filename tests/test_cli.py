import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from redline import __version__
from redline.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"redline {__version__}"


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "models" in result.output and "chat" in result.output


def test_cli_start_does_not_import_heavy_libraries():
    code = (
        "import sys, redline.cli; "
        "heavy = [m for m in ('inspect_ai', 'llama_cpp', 'torch') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.model
def test_models_shows_embedded_model_loadable():
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    infos = {m["name"]: m for m in json.loads(result.output)}
    assert infos["redline/smollm2"]["loads"] is True
    assert infos["redline/smollm2"]["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert "redline/gguf" in infos


@pytest.mark.model
def test_chat_prints_an_answer():
    result = runner.invoke(app, ["chat", "Say hello.", "--max-tokens", "8"])
    assert result.exit_code == 0, result.output
    assert result.output.strip()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from redline.cli import main; main()", *args],
        capture_output=True,
        text=True,
    )


def test_bad_model_path_is_one_line_error(tmp_path):
    missing = tmp_path / "nope.gguf"
    result = run_cli("chat", "hi", "--model", "redline/gguf", "-M", f"model_path={missing}")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: model file not found: {missing}"
    assert result.stdout == ""


def test_corrupt_model_file_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_text("this is not a model")
    result = run_cli("chat", "hi", "--model", "redline/gguf", "-M", f"model_path={bad}")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: not a GGUF model file (bad header): {bad}"


def test_unknown_provider_is_one_line_error():
    result = run_cli("chat", "hi", "--model", "nosuchprovider/x")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nosuchprovider" in lines[0]


def test_malformed_model_arg():
    result = runner.invoke(app, ["chat", "hi", "-M", "model_path"])
    assert result.exit_code == 2
    assert "key=value" in result.output
