"""The one normalisation applied to a text before the model sees it, in training and in scoring alike.

Lower case (the training sets are too small to learn "GREAT" apart from "great"), @handles and links
replaced by placeholders (tweets name airlines; a shop's comments name other things), runs of
whitespace folded. Themes and clauses are found on the same normalised text.
"""

from __future__ import annotations

import re

MENTION = re.compile(r"(?<![\w@])@\w+")
LINK = re.compile(r"https?://\S+|www\.\S+")
SPACE = re.compile(r"[ \t\r\f\v]+")
MAX_CHARS = 5000


def normalise(text: str) -> str:
    text = LINK.sub(" http ", text[:MAX_CHARS])
    text = MENTION.sub(" @user ", text)
    return SPACE.sub(" ", text).strip().lower()
