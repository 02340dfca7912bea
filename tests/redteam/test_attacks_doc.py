"""docs/attacks.md lists every registered attack; `REDLINE_UPDATE_DOCS=1` rewrites the table."""

import os
from pathlib import Path

from redline.attacks import attack_names, get_attack
from redline.redteam import attackers  # noqa: F401  (registers the attacker-model attacks)

DOC = Path(__file__).parents[2] / "docs" / "attacks.md"
START, END = "<!-- attacks:start -->", "<!-- attacks:end -->"


def table() -> str:
    rows = [
        "| name | family | turns | attacker model | seeded variants | what it does | reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in attack_names():
        m = get_attack(name).describe()
        rows.append(
            f"| `{name}` | {m['family']} | {m['turns']} | {'yes' if m['needs_attacker'] else 'no'}"
            f" | {'yes' if m['randomized'] else 'no'} | {m['description']} | {m['paper'] or '-'} |"
        )
    return "\n".join(rows)


def test_doc_table_matches_the_registry():
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    expected = f"{head}{START}\n{table()}\n{END}{tail}"
    if os.environ.get("REDLINE_UPDATE_DOCS") and text != expected:
        DOC.write_text(expected, encoding="utf-8")
        text = expected
    assert text == expected, "docs/attacks.md is stale: rerun with REDLINE_UPDATE_DOCS=1"
    assert f"{len(attack_names())} attacks" in text
