"""The reviews that arrive without a connector: a CSV export (`cxloop reviews import`) and the body of
the generic review webhook (one review, a batch, a Yotpo review object)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from services.reviews.connectors.csv_import import Columns, RowError, read_csv
from services.reviews.connectors.webhook_payload import from_yotpo, parse_review_webhook
from services.reviews.domain.errors import Malformed
from services.reviews.domain.model import MAX_TEXT, Source, SourceItem

pytestmark = pytest.mark.unit

JUDGEME = Columns(
    id="Review ID", text="Body", rating="Rating", date="Date", author="Reviewer", title="Title", url="Link"
)
JUDGEME_HEADER = "Review ID,Title,Body,Rating,Date,Reviewer,Link\n"


def read(text: str, columns: Columns = JUDGEME, source: str = "judgeme") -> list[SourceItem | RowError]:
    return list(read_csv(io.StringIO(text), source, columns))


def items(rows: list[SourceItem | RowError]) -> list[SourceItem]:
    return [row for row in rows if isinstance(row, SourceItem)]


def errors(rows: list[SourceItem | RowError]) -> list[RowError]:
    return [row for row in rows if isinstance(row, RowError)]


# --- the CSV reader --------------------------------------------------------------------------------


def test_csv_maps_every_column() -> None:
    rows = read(
        JUDGEME_HEADER
        + '123,Fits well,"Comfortable, true to size.",4.5,2024-03-01,Ann B.,https://shop.example/p/1#r123\n'
        + "124,,Too narrow,2,2024-03-02T18:30:00+02:00,,\n"
    )

    first, second = rows
    assert first == SourceItem(
        source=Source.CSV,
        source_id="judgeme:123",
        text="Comfortable, true to size.",
        title="Fits well",
        rating=4.5,
        rating_scale=5,
        author="Ann B.",
        url="https://shop.example/p/1#r123",
        published_at=datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert isinstance(second, SourceItem)
    assert second.published_at == datetime(2024, 3, 2, 18, 30, tzinfo=timezone(timedelta(hours=2)))
    assert (second.title, second.author, second.url) == (None, None, None)


def test_csv_matches_column_names_ignoring_case_and_spaces_and_reads_no_more_than_asked() -> None:
    rows = read(" TEXT ,Stars,Country\nGreat,4,FR\nFine,,DE\n", Columns(rating="stars", rating_scale=10))

    great, fine = items(rows)
    assert (great.text, great.rating, great.rating_scale) == ("Great", 4.0, 10)
    assert (fine.rating, fine.rating_scale) == (None, None)  # no rating: no scale either
    assert great.published_at is None and great.author is None


def test_csv_with_a_utf8_bom_reads_its_first_column(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("text,author\nTrès confortable 👟,Zoë\n", encoding="utf-8-sig")

    with path.open(encoding="utf-8", newline="") as stream:  # not utf-8-sig: the BOM stays in the text
        (item,) = read_csv(stream, "etsy", Columns(author="author"))

    assert isinstance(item, SourceItem)
    assert (item.text, item.author) == ("Très confortable 👟", "Zoë")


def test_csv_bad_rows_are_reported_with_their_line_and_the_rest_is_read() -> None:
    rows = read(
        JUDGEME_HEADER
        + "1,,Good,5,2024-01-01,A,\n"  # line 2
        + "2,,,5,2024-01-01,B,\n"  # line 3: stars only, kept
        + "2b,,,,2024-01-01,B,\n"  # line 4: no text and no rating
        + '3,,"Two\nlines",5,2024-01-01,C,\n'  # lines 5-6
        + "4,,Meh,five,2024-01-01,D,\n"  # line 7: rating not a number
        + "5,,Meh,6,2024-01-01,E,\n"  # line 8: rating above the scale
        + "6,,Meh,3,01/02/2024,F,\n"  # line 9: not ISO
        + "\n"  # line 10: blank, skipped
        + "7,,Meh, 3,2024-01-01,G,,surplus\n"  # line 11: slipped columns
        + "8,,Meh,3,2024-01-01,H,javascript:alert(1)\n"  # line 12: not an http(s) url
        + "9,,Last,4,2024-01-01,I,\n"  # line 13
    )

    assert [item.source_id for item in items(rows)] == ["judgeme:1", "judgeme:2", "judgeme:3", "judgeme:9"]
    assert items(rows)[2].text == "Two\nlines"
    assert (items(rows)[1].text, items(rows)[1].rating) == ("", 5.0)
    assert [(e.line, e.reason.split(" ")[0]) for e in errors(rows)] == [
        (4, "no"),
        (7, "rating"),
        (8, "rating"),
        (9, "date"),
        (11, "8"),
        (12, "url"),
    ]
    assert errors(rows)[0].reason == "no text and no rating"
    assert "outside 0-5" in errors(rows)[2].reason


def test_csv_a_field_too_large_for_the_csv_module_is_a_row_error() -> None:
    huge = "x" * 200_000  # over csv's default field limit
    rows = read(f'text\nFirst\n"{huge}"\nAfter\n', Columns())

    assert [item.text for item in items(rows)] == ["First", "After"]
    (error,) = errors(rows)
    assert error.line == 3 and "not CSV" in error.reason


def test_csv_long_text_is_cut_to_what_an_item_holds() -> None:
    (item,) = items(read("text\n" + "y" * (MAX_TEXT + 10) + "\n", Columns()))

    assert item.text == "y" * MAX_TEXT


def test_csv_default_ids_make_a_reimport_idempotent() -> None:
    columns = Columns(text="review", date="date", author="name")
    export = "review,date,name\nLovely,2024-05-01,Ann\nLovely,2024-05-01,Bob\nLovely,2024-05-02,Ann\n"

    first = [item.source_id for item in items(read(export, columns))]
    again = [item.source_id for item in items(read(export, columns))]
    other = [item.source_id for item in items(read(export, columns, source="etsy"))]

    assert first == again
    assert len(set(first)) == 3  # another author, another day: another review
    assert all(sid.startswith("judgeme:") for sid in first)
    assert [sid.removeprefix("etsy:") for sid in other] == [sid.removeprefix("judgeme:") for sid in first]
    assert set(first).isdisjoint(other)


def test_csv_default_id_does_not_depend_on_how_the_date_is_written() -> None:
    columns = Columns(text="review", date="date")
    (a,) = items(read("review,date\nLovely,2024-05-01\n", columns))
    (b,) = items(read("review,date\nLovely,2024-05-01T00:00:00Z\n", columns))

    assert a.source_id == b.source_id


# The usual exports (issue 17, item 12): their own column names, no --*-column needed.
EXPORTS = {
    "judgeme": (
        "title,body,rating,review_date,source,curated,reviewer_name,reviewer_email,product_id,product_handle,"
        "reply,reply_date,picture_urls,ip_address,location\n"
        "Top,Lovely glaze,5,2025-03-02 10:12:00 UTC,web,ok,Camille R.,c@x.example,70,mug,,,,,FR\n"
        ",,2,2025-03-03 09:00:00 UTC,email,ok,Marc,m@x.example,70,mug,,,,,\n"
    ),
    "yotpo": (
        "Review Title,Review Content,Review Score,Date,Product ID,Product Title,Display Name,Email\n"
        "Top,Lovely glaze,5,2025-03-02T10:12:00Z,70,Mug,Camille R.,c@x.example\n"
        ",,2,2025-03-03,70,Mug,Marc,m@x.example\n"
    ),
    "trustpilot": (
        "Review ID,Review Created (UTC),Review Stars,Review Title,Review Content,Consumer Name\n"
        "abc,2025-03-02 10:12:00,5,Top,Lovely glaze,Camille R.\n"
        "abd,2025-03-03 09:00:00,2,,,Marc\n"
    ),
    "google": (
        "creation_time,title,comment,rating,reviewer_display_name\n"
        "2025-03-02T10:12:00Z,Top,Lovely glaze,FIVE,Camille R.\n"
        "2025-03-03T09:00:00Z,,,TWO,Marc\n"
    ),
}


@pytest.mark.parametrize("source", EXPORTS)
def test_csv_recognises_the_usual_exports_dates_authors_and_star_only_reviews(source: str) -> None:
    worded, starred = items(read(EXPORTS[source], Columns(), source=source))

    assert (worded.text, worded.title, worded.rating, worded.author) == (
        "Lovely glaze",
        "Top",
        5.0,
        "Camille R.",
    )
    assert worded.published_at is not None and worded.published_at.date().isoformat() == "2025-03-02"
    assert (starred.text, starred.title, starred.rating, starred.author) == ("", None, 2.0, "Marc")
    assert starred.published_at is not None and starred.published_at.date().isoformat() == "2025-03-03"
    assert worded.source_id != starred.source_id


def test_csv_a_created_at_column_dates_the_review_without_being_named() -> None:
    (item,) = items(read("text,rating,created_at,author\nNice,4,2024-05-01T08:00:00Z,Ann\n", Columns()))

    assert (item.published_at, item.author) == (datetime(2024, 5, 1, 8, 0, tzinfo=UTC), "Ann")


def test_csv_reports_the_columns_it_read_and_a_column_named_wins() -> None:
    from services.reviews.connectors.csv_import import open_csv

    used, rows = open_csv(io.StringIO(EXPORTS["judgeme"]), "judgeme", Columns(author="reviewer_email"))
    assert used == {"text": "body", "rating": "rating", "date": "review_date", "author": "reviewer_email",
                    "title": "title"}  # fmt: skip
    assert [i.author for i in items(list(rows))] == ["c@x.example", "m@x.example"]


def test_csv_with_neither_words_nor_stars_says_which_options_name_them() -> None:
    with pytest.raises(ValueError, match=r"no column of review text or rating.*--text-column"):
        read("order,when\n1,2025-01-01\n", Columns())


def test_csv_without_the_text_column_names_the_columns_found() -> None:
    with pytest.raises(ValueError, match=r"no text column 'Body'.*Review ID, Comment, Rating"):
        read("Review ID,Comment,Rating\n1,Nice,5\n")


def test_csv_without_a_named_optional_column_is_refused_too() -> None:
    with pytest.raises(ValueError, match=r"no rating column 'stars'"):
        read("text\nNice\n", Columns(rating="stars"))


@pytest.mark.parametrize("bad", ["", "Judge.me", "a" * 33, "judge me"])
def test_csv_source_name_must_be_a_short_name(bad: str) -> None:
    with pytest.raises(ValueError, match="source name"):
        read("text\nNice\n", Columns(), source=bad)


def test_csv_rating_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rating_scale"):
        Columns(rating="stars", rating_scale=0)


# --- the webhook body ------------------------------------------------------------------------------

REVIEW: dict[str, Any] = {
    "id": "r-981",
    "source": "judgeme",
    "text": "Great fit, fast delivery.",
    "title": "Love them",
    "rating": 4,
    "author": "Sam K.",
    "url": "https://shop.example/products/runner#review-981",
    "published_at": "2026-11-20T08:15:00Z",
    "updated_at": "2026-11-21T09:00:00",  # no zone: UTC
    "verified_buyer": True,  # unknown keys are ignored
}


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_webhook_one_review_object() -> None:
    (item,) = parse_review_webhook(body(REVIEW))

    assert item == SourceItem(
        source=Source.WEBHOOK,
        source_id="judgeme:r-981",
        text="Great fit, fast delivery.",
        title="Love them",
        rating=4.0,
        rating_scale=5,
        author="Sam K.",
        url="https://shop.example/products/runner#review-981",
        published_at=datetime(2026, 11, 20, 8, 15, tzinfo=UTC),
        updated_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
    )


def test_webhook_a_batch_keeps_order_and_each_source() -> None:
    batch = {
        "reviews": [
            {"id": 7, "source": "etsy", "text": "ok", "rating": 8, "rating_scale": 10},
            {"id": "gone-1", "source": "judgeme", "deleted": True},
            {"id": 7, "source": "judgeme", "rating": 3},
        ]
    }

    items = parse_review_webhook(body(batch))

    assert [i.source_id for i in items] == ["etsy:7", "judgeme:gone-1", "judgeme:7"]
    assert (items[0].rating, items[0].rating_scale) == (8.0, 10)
    assert items[1].deleted and items[1].text == "" and items[1].rating_scale is None
    assert all(i.source is Source.WEBHOOK for i in items)
    assert parse_review_webhook(b'{"reviews": []}') == []


def test_webhook_yotpo_review_object_from_the_fixture(shared_dir: Path) -> None:
    obj = json.loads((shared_dir / "fixtures/reviews/yotpo/review_object.json").read_text("utf-8"))

    (item,) = parse_review_webhook(body({"yotpo": obj}))

    assert item == from_yotpo(obj)
    assert item == SourceItem(
        source=Source.WEBHOOK,
        source_id="yotpo:460312221",
        text="It\u2019s really good",
        title="Great Phone",
        rating=5.0,
        rating_scale=5,
        author="John S.",
        published_at=datetime(2023, 4, 12, 18, 13, 47, tzinfo=UTC),
        updated_at=datetime(2023, 4, 17, 17, 10, 34, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("change", "deleted", "author"),
    [
        ({"archived": True}, True, "John S."),
        ({"deleted": True}, True, "John S."),
        ({"name": None, "user_name": "johns"}, False, "johns"),
    ],
    ids=["archived", "deleted", "user_name"],
)
def test_webhook_yotpo_flags_and_names(change: dict[str, Any], deleted: bool, author: str) -> None:
    obj = {"id": 1, "score": 2, "content": "meh", "name": "John S.", "deleted": False, "archived": False}

    item = from_yotpo({**obj, **change})

    assert (item.deleted, item.author) == (deleted, author)


def many(n: int) -> dict[str, Any]:
    return {"reviews": [{"id": i, "source": "judgeme"} for i in range(n)]}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (body([REVIEW]), "expected a JSON object"),
        (body({k: v for k, v in REVIEW.items() if k != "id"}), "id: Field required"),
        (body({**REVIEW, "id": ""}), "id:"),
        (body({**REVIEW, "id": True}), "id:"),
        (body({**REVIEW, "source": "Judge.me"}), "source:"),
        (body({k: v for k, v in REVIEW.items() if k != "source"}), "source: Field required"),
        (body({**REVIEW, "rating": 6}), "rating_scale: the rating 6 is above the scale 5"),
        (body({**REVIEW, "rating": -1}), "rating:"),
        (body({**REVIEW, "rating": "five"}), "rating:"),
        (body({**REVIEW, "url": "javascript:alert(1)"}), "url:"),
        (body({**REVIEW, "published_at": "yesterday"}), "published_at:"),
        (body({**REVIEW, "text": "z" * (MAX_TEXT + 1)}), "text:"),
        (body({"reviews": {"id": 1}}), "reviews:"),
        (body({"reviews": [REVIEW, {**REVIEW, "source": ""}]}), r"reviews\.1\.source:"),
        (body(many(101)), "reviews:"),
        (body({"yotpo": [1]}), "yotpo: expected a review object"),
        (body({"yotpo": {"id": 1, "score": 9}}), r"yotpo\.score:"),
    ],
    ids=[
        "not-json",
        "not-utf8",
        "array",
        "no-id",
        "empty-id",
        "bool-id",
        "bad-source",
        "no-source",
        "rating-above-scale",
        "negative-rating",
        "rating-not-a-number",
        "url-not-http",
        "bad-date",
        "text-too-long",
        "reviews-not-a-list",
        "bad-item-in-batch",
        "batch-over-100",
        "yotpo-not-an-object",
        "yotpo-bad-score",
    ],
)
def test_webhook_invalid_bodies_are_malformed_naming_the_field(raw: bytes, named: str) -> None:
    with pytest.raises(Malformed, match=named):
        parse_review_webhook(raw)


def test_webhook_a_batch_of_100_is_accepted() -> None:
    assert len(parse_review_webhook(body(many(100)))) == 100
