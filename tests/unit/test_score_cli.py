"""`cxloop score` and `cxloop model`: JSON lines or CSV in, one JSON line per input out, bad lines
answered with their reason while the run goes on."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cxloop.cli import main


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str
) -> list[dict]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["score", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_jsonl_in_order_with_error_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps({"id": "a", "text": "Fast delivery but the seams ripped"}),
        "{not json",
        json.dumps({"id": 7, "text": "Love it, great quality!"}),
        json.dumps({"id": "b"}),
        json.dumps({"id": "c", "text": "   "}),
        json.dumps(["id", "text"]),
        "",
        json.dumps({"text": "no id"}),
        json.dumps({"id": "d", "text": "Die Lieferung war schnell und gut verpackt."}),
    ]
    out = run(monkeypatch, capsys, "\n".join(lines) + "\n")
    assert [o.get("id") for o in out] == ["a", None, "7", "b", "c", None, None, "d"]
    first = out[0]
    assert set(first) == {"id", "sentiment", "themes", "language", "flags", "taxonomy", "model_version"}
    assert set(first["sentiment"]) == {"label", "score", "confidence"}
    assert {t["theme"]: t["sentiment"] for t in first["themes"]} == {
        "delivery_shipping": "positive",
        "product_quality": "negative",
    }
    assert out[1] == {"id": None, "line": 2, "error": out[1]["error"]}
    assert out[1]["error"].startswith("not JSON")
    assert out[2]["sentiment"]["label"] == "positive"
    assert out[3]["error"] == "text is missing or not a string"
    assert out[4]["error"] == "text is empty"
    assert out[5]["error"] == "expected an object with id and text"
    assert out[6] == {"id": None, "line": 8, "error": "id is missing (a string or a number)"}
    assert out[7]["sentiment"] is None and out[7]["flags"] == ["not_english"] and out[7]["language"] == "de"


def test_csv_with_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        'ref,comment\nr1,"Rude staff, cold food"\nr2,"The pasta was delicious"\n', encoding="utf-8"
    )
    out = run(monkeypatch, capsys, "", str(path), "--csv", "--text-column", "comment", "--id-column", "ref",
              "--taxonomy", "restaurant", "--brief")  # fmt: skip
    assert [o["id"] for o in out] == ["r1", "r2"]
    assert "taxonomy" not in out[0]
    assert out[0]["sentiment"]["label"] == "negative"
    assert {"service", "food"} <= {t["theme"] for t in out[0]["themes"]}
    assert out[1]["sentiment"]["label"] == "positive"


def test_csv_without_the_column_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n")
    assert main(["score", str(path), "--csv"]) == 2
    assert "no column 'text'" in capsys.readouterr().err


def test_a_taxonomy_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tax.json"
    path.write_text(json.dumps({"name": "pets", "themes": [{"id": "leash", "keywords": ["leash", "lead"]}]}))
    out = run(monkeypatch, capsys, json.dumps({"id": 1, "text": "The leash snapped on day two"}) + "\n",
              "--taxonomy", str(path))  # fmt: skip
    assert out[0]["taxonomy"] == "pets"
    assert [t["theme"] for t in out[0]["themes"]] == ["leash"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "pets", "themes": [{"id": "Leash!", "keywords": ["x"]}]}))
    assert main(["score", "--taxonomy", str(bad)]) == 2
    assert "themes.0.id" in capsys.readouterr().err
    assert main(["score", "--taxonomy", "nonesuch"]) == 2
