"""The trained pipeline at work: one call scores a batch of texts for one taxonomy.

Loaded once per process (a Lambda container, a CLI run), with the language identifier (texts it calls
not English are flagged, not read). The spaCy pipeline holds the sentiment
classifier and the taxonomy classifiers; keywords are matched with a PhraseMatcher on the same tokens;
clauses are re-scored only where a text has more than one and names a theme.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from services.scoring.domain import clauses as clause_rules
from services.scoring.domain.language import ENGLISH, Lexicon, identify
from services.scoring.domain.ports import LanguageIdentifier
from services.scoring.domain.taxonomy import DEFAULT, Taxonomy
from services.scoring.domain.text import normalise
from services.scoring.domain.themes import Found, Probs, theme_scores
from shared.sentiment import Scored

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc

MODEL_DIR = Path(__file__).resolve().parent / "trained"
SENTIMENT = "sentiment"
TERMS_FILE = "theme_terms.json"  # keywords mined from labelled data, per taxonomy and theme
BATCH = 256
DEFAULT_THRESHOLD = 0.5


class Text(NamedTuple):
    id: str
    text: str


def plural_variants(keyword: str) -> list[str]:
    """``"seam"`` → seam, seams; ``"delivery"`` → delivery, deliveries; phrases vary their last word."""
    head, _, last = keyword.rpartition(" ")
    prefix = f"{head} " if head else ""
    forms = {last}
    if last.isalpha() and len(last) > 2 and not last.endswith("s"):
        if last.endswith("y") and last[-2] not in "aeiou":
            forms.add(last[:-1] + "ies")
        elif last.endswith(("ch", "sh", "x", "z")):
            forms.add(last + "es")
        else:
            forms.add(last + "s")
    return sorted(prefix + form for form in forms)


class Scorer:
    def __init__(
        self,
        model_dir: Path = MODEL_DIR,
        identifier: LanguageIdentifier | None = None,
        lexicon: Lexicon | None = None,
    ) -> None:
        import spacy

        from services.scoring.adapters import fasttext_language

        self._identifier = identifier or fasttext_language.identifier()
        self._lexicon = lexicon or fasttext_language.lexicon()

        self.nlp: Language = spacy.load(model_dir)
        meta = self.nlp.meta
        self.version = f"{meta.get('name', 'model')}-{meta.get('version', '0')}"
        terms_path = model_dir / TERMS_FILE
        self._terms: dict[str, dict[str, list[str]]] = (
            json.loads(terms_path.read_text()) if terms_path.exists() else {}
        )
        self._thresholds: dict[str, float] = meta.get("cxloop", {}).get("thresholds", {})
        self._matchers: dict[str, tuple[Taxonomy, PhraseMatcher]] = {}

    def matcher(self, taxonomy: Taxonomy) -> PhraseMatcher:
        key = taxonomy.model_dump_json()
        hit = self._matchers.get(key)
        if hit is not None:
            return hit[1]
        from spacy.matcher import PhraseMatcher

        matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        mined = self._terms.get(taxonomy.name, {}) if taxonomy.classifier else {}
        for theme in taxonomy.themes:
            words = {v for k in (*theme.keywords, *mined.get(theme.id, [])) for v in plural_variants(k)}
            if words:
                matcher.add(theme.id, [self.nlp.make_doc(w) for w in sorted(words)])
        if len(self._matchers) > 64:  # shops' own taxonomies: keep a bounded few
            self._matchers.clear()
        self._matchers[key] = (taxonomy, matcher)
        return matcher

    def score(self, texts: Sequence[tuple[str, str]], taxonomy: Taxonomy = DEFAULT) -> list[Scored]:
        """``texts``: (id, text) pairs; one reading each, in order."""
        docs = [self.nlp.make_doc(normalise(text)) for _, text in texts]
        languages = identify([text for _, text in texts], self._identifier, self._lexicon)
        english = [doc for doc, lang in zip(docs, languages, strict=True) if lang.language == ENGLISH]
        self._classify(english, taxonomy)
        matcher = self.matcher(taxonomy)
        results = []
        for (item_id, _), doc, lang in zip(texts, docs, languages, strict=True):
            if lang.language != ENGLISH:
                results.append(
                    Scored(
                        id=item_id,
                        sentiment=None,
                        language=lang.language,
                        flags=["not_english"],
                        taxonomy=taxonomy.name,
                        model_version=self.version,
                    )
                )
                continue
            results.append(self._scored(item_id, doc, matcher, taxonomy))
        return results

    def probabilities(self, texts: Sequence[str], component: str) -> list[dict[str, float]]:
        """One component's label probabilities per text, language unchecked (for evaluation)."""
        docs = [self.nlp.make_doc(normalise(text)) for text in texts]
        pipe: Any = self.nlp.get_pipe(component)
        return [dict(doc.cats) for doc in pipe.pipe(docs, batch_size=BATCH)]

    def _classify(self, docs: list[Doc], taxonomy: Taxonomy) -> None:
        names = [SENTIMENT]
        if taxonomy.classifier and taxonomy.classifier in self.nlp.pipe_names:
            names.append(taxonomy.classifier)
        for name in names:
            for _ in self.nlp.get_pipe(name).pipe(docs, batch_size=BATCH):  # type: ignore[attr-defined]
                pass

    def _scored(self, item_id: str, doc: Doc, matcher: PhraseMatcher, taxonomy: Taxonomy) -> Scored:
        whole = _probs(doc.cats)
        spans = clause_rules.boundaries([tok.lower_ for tok in doc])
        found = []
        for match_id, start, _end in matcher(doc):
            clause = next((i for i, (a, b) in enumerate(spans) if a <= start < b), None)
            found.append(Found(self.nlp.vocab.strings[match_id], clause))
        found.extend(self._classified(doc, taxonomy))
        clause_probs = self._clause_probs(
            doc, spans, {f.clause for f in found if f.clause is not None}, whole
        )
        return Scored(
            id=item_id,
            sentiment=whole.sentiment(),
            themes=theme_scores(found, clause_probs, whole),
            language=ENGLISH,
            taxonomy=taxonomy.name,
            model_version=self.version,
        )

    def _classified(self, doc: Doc, taxonomy: Taxonomy) -> list[Found]:
        if not taxonomy.classifier or taxonomy.classifier not in self.nlp.pipe_names:
            return []
        threshold = self._thresholds.get(taxonomy.classifier, DEFAULT_THRESHOLD)
        labels = self._labels(taxonomy.classifier)
        cats = {label: doc.cats.get(label, 0.0) for label in labels[0]}
        if labels[1] and cats:  # one label per text: only the likeliest may count
            best = max(cats, key=lambda k: cats[k])
            cats = {best: cats[best]}
        found = []
        for label, p in cats.items():
            theme = taxonomy.theme_for_label(label)
            if theme is not None and p >= threshold:
                found.append(Found(theme, None))
        return found

    def _labels(self, component: str) -> tuple[tuple[str, ...], bool]:
        """A classifier's labels, and whether they exclude each other."""
        from spacy.pipeline import MultiLabel_TextCategorizer

        pipe: Any = self.nlp.get_pipe(component)
        return tuple(pipe.labels), not isinstance(pipe, MultiLabel_TextCategorizer)

    def _clause_probs(
        self, doc: Doc, spans: list[tuple[int, int]], wanted: set[int], whole: Probs
    ) -> dict[int, Probs]:
        if len(spans) <= 1:
            return dict.fromkeys(wanted, whole)
        clause_docs = [doc[spans[i][0] : spans[i][1]].as_doc() for i in sorted(wanted)]
        sentiment: Any = self.nlp.get_pipe(SENTIMENT)
        scored = list(sentiment.pipe(clause_docs, batch_size=BATCH))
        return {i: _probs(d.cats) for i, d in zip(sorted(wanted), scored, strict=True)}


def _probs(cats: dict[str, float]) -> Probs:
    return Probs(cats.get("positive", 0.0), cats.get("neutral", 0.0), cats.get("negative", 0.0))
