"""A test constitution that restricts the word "blue", so a guard cuts an answer about the sky.

Its seeds come in pairs that differ only by "blue", so the classifier learns that word and
nothing else about the sky; the embedded model, asked the sky's colour, says blue mid-answer.
"""

from tests.guard.tiny import TINY

QUESTION = "What color is the sky on a clear day?"
PAIRS = [
    "The sky on a clear day is often described as a deep, rich shade of",
    "The sky on a clear day is",
    "What color is the sky on a clear day? It is",
    "The sky is a vibrant shade of",
    "On a clear day the sky looks",
    "The colour of the sky is",
    "A clear sky is a bright, deep shade of",
    "The ocean and the sky are both",
    "Many people describe the sky as",
    "The sky appears light",
    "a deep, rich and vibrant",
    "The sky on a clear day is often described as a deep, rich, and vibrant shade of",
]
HARMFUL = [f"{p} blue." for p in PAIRS] + ["blue", "Blue.", "blue blue blue", "navy blue"]
PERMITTED = [f"{p}." for p in PAIRS] + [QUESTION, "What colour is grass?", "red", "yellow"]


def _items(texts: list[str]) -> str:
    return "".join(f"      - {t!r}\n" for t in texts)


BLUE = (
    "schema_version: 1\nid: blue\nname: No blue\ndescription: A toy rule for proxy tests.\n"
    "categories:\n  - id: colour_blue\n    name: The colour blue\n    severity: low\n"
    "    level: ASL-2\n    restricted: Saying blue.\n    permitted: Anything else.\n"
    f"    harmful_seeds:\n{_items(HARMFUL)}    permitted_seeds:\n{_items(PERMITTED)}"
    + TINY[TINY.index("  - id: toy_theft") :]
)
