"""`redline/smoke`: a five-question multiple-choice check that a model answers end to end.

It proves the plumbing (provider, solver, scorer, log), not capability: a 135M model is
expected to score near chance. The capability suites replace it in `make demo`.
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import choice

from redline.evals._choice import logprob_choice

QUESTIONS: list[tuple[str, list[str], str]] = [
    (
        "Which organelle produces most of a eukaryotic cell's ATP?",
        ["Ribosome", "Mitochondrion", "Golgi apparatus", "Lysosome"],
        "B",
    ),
    (
        "What is the chemical formula of table salt?",
        ["KCl", "NaHCO3", "NaCl", "CaCO3"],
        "C",
    ),
    (
        "Which port does HTTPS use by default?",
        ["21", "80", "22", "443"],
        "D",
    ),
    (
        "What does a cryptographic hash function map its input to?",
        ["A fixed-size digest", "A longer ciphertext", "A private key", "A random salt"],
        "A",
    ),
    (
        "Which molecule carries genetic information in most living organisms?",
        ["ATP", "Cellulose", "DNA", "Haemoglobin"],
        "C",
    ),
]


@task(suite="check")
def smoke() -> Task:
    """Five textbook multiple-choice questions, answered by option-letter log-probability."""
    dataset = MemoryDataset(
        [
            Sample(input=q, choices=options, target=answer, id=f"smoke-{i + 1}")
            for i, (q, options, answer) in enumerate(QUESTIONS)
        ],
        name="smoke",
    )
    return Task(dataset=dataset, solver=logprob_choice(), scorer=choice(), version=1)
