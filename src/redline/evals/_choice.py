"""Multiple choice answered by log-probability: the option letter the model finds most likely.

Small models rarely follow an answer format, so reading the distribution over the first
answer token measures what they know rather than whether they can format a reply. Works
with any Inspect model that returns `top_logprobs` (the embedded one does).
"""

import math

from inspect_ai.model import ChatMessageUser
from inspect_ai.solver import Generate, Solver, TaskState, solver

TOP_LOGPROBS = 20
PROMPT = (
    "Answer the following multiple choice question. "
    "Reply with only the letter of the correct option.\n\n{question}\n\n{options}"
)


def letters(n: int) -> list[str]:
    """Option letters A, B, C, ... for n options."""
    return [chr(ord("A") + i) for i in range(n)]


@solver
def logprob_choice() -> Solver:
    """Pick the option whose letter has the highest log-probability as the answer's first token.

    Letters missing from the top log-probabilities get -inf; the per-letter log-probabilities
    are kept in the sample's metadata (`option_logprobs`) and the choice is marked for
    Inspect's `choice()` scorer.
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if not state.choices:
            raise ValueError("logprob_choice needs samples with choices")
        labels = letters(len(state.choices))
        options = "\n".join(
            f"{label}. {c.value}" for label, c in zip(labels, state.choices, strict=True)
        )
        state.messages = [
            ChatMessageUser(content=PROMPT.format(question=state.input_text, options=options))
        ]
        state = await generate(
            state,
            max_tokens=1,
            temperature=0.0,
            logprobs=True,
            top_logprobs=TOP_LOGPROBS,
        )
        scores = {label: -math.inf for label in labels}
        logprobs = state.output.choices[0].logprobs if state.output.choices else None
        if logprobs and logprobs.content and logprobs.content[0].top_logprobs:
            for top in logprobs.content[0].top_logprobs:
                label = top.token.strip()
                if label in scores:
                    scores[label] = max(scores[label], top.logprob)
        best = max(labels, key=lambda label: scores[label])
        for i, label in enumerate(labels):
            state.choices.mark_choice(i, label == best)
        state.metadata["option_logprobs"] = scores
        return state

    return solve
