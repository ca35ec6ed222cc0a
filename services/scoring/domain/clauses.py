"""Where a text changes its mind: the clauses that theme sentiment is measured on.

"Fast delivery but the seams ripped" holds two opinions; scoring it whole gives one muddled label.
A clause ends at sentence punctuation, a line break or a semicolon, and a new one starts at a
contrastive word ("but", "however", "although" ...). The words themselves stay with the clause they
open, which is where a bag-of-words model learned to read them.
"""

from __future__ import annotations

from collections.abc import Sequence

CONTRAST = frozenset(
    {
        "but",
        "however",
        "although",
        "though",
        "whereas",
        "yet",
        "except",
        "unfortunately",
        "sadly",
        "otherwise",
    }
)
ENDS = frozenset({".", "!", "?", ";", "…", "\n"})


def boundaries(words: Sequence[str]) -> list[tuple[int, int]]:
    """``words``: the tokens, lower-cased (whitespace tokens included). Returns [start, end) spans,
    each with at least one word that is not punctuation or space."""
    spans: list[tuple[int, int]] = []
    start = 0
    for i, word in enumerate(words):
        if word in CONTRAST and i > start:
            spans.append((start, i))
            start = i
        elif word in ENDS or "\n" in word:
            spans.append((start, i + 1))
            start = i + 1
    spans.append((start, len(words)))
    return [(a, b) for a, b in spans if any(_is_word(w) for w in words[a:b])]


def _is_word(word: str) -> bool:
    return any(c.isalnum() for c in word)
