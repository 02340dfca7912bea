"""Real Inspect logs for policy tests, produced by a scripted model (no network, no weights)."""

from collections import defaultdict
from pathlib import Path

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.model import GenerateConfig, ModelAPI, ModelOutput, modelapi
from inspect_ai.scorer import exact

_calls: dict[str, int] = defaultdict(int)


@modelapi(name="scripted")
class Scripted(ModelAPI):
    """Answers a prompt `say: A|B|...` with A on the first call, B on the second, and so on."""

    def __init__(self, model_name, base_url=None, api_key=None, config=GenerateConfig(), **kw):  # noqa: B008
        super().__init__(model_name, base_url, api_key, [], config)

    async def generate(self, input, tools, tool_choice, config):
        prompt = input[-1].text
        options = prompt.removeprefix("say: ").split("|")
        answer = options[_calls[prompt] % len(options)]
        _calls[prompt] += 1
        if answer.startswith("ERROR"):
            raise RuntimeError("scripted failure")
        return ModelOutput.from_content(model=self.model_name, content=answer)

    async def count_text_tokens(self, text):
        return len(text.split())


def run_task(
    log_dir: Path, name: str, correct: int, total: int, epochs: int = 1, errors: int = 0
) -> Path:
    """Log a task where `correct` of `total` samples are right (and `errors` samples fail)."""
    samples = [
        Sample(
            id=i,
            input=f"say: {'yes' if i < correct else 'no'} {name}-{i}",
            target=f"yes {name}-{i}",
        )
        for i in range(total)
    ]
    samples += [
        Sample(id=total + i, input=f"say: ERROR {name}-e{i}", target="x") for i in range(errors)
    ]
    task = Task(dataset=samples, scorer=exact(), name=name, epochs=epochs)
    [log] = eval(
        task,
        model="scripted/test",
        log_dir=str(log_dir),
        display="none",
        fail_on_error=False,
        retry_on_error=0,
    )
    return Path(log.location)


@pytest.fixture
def make_log(tmp_path):
    def make(name: str, correct: int, total: int, **kwargs) -> Path:
        return run_task(tmp_path / "logs", name, correct, total, **kwargs)

    return make
