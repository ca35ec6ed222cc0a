"""``cxloop score``, ``cxloop model train`` and ``cxloop themes``: the NLP from the command line.

``score`` needs no AWS at all: it reads texts, loads the committed model and prints one JSON line
per input (an error line for input it cannot read, and goes on). ``model train`` rebuilds the model
from ``../shared/data``; with ``--shop`` it adds that shop's labelled answers and prints what they change.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from services.scoring.domain.taxonomy import PRESETS, Taxonomy

AdminFactory = Callable[[argparse.Namespace], Any]
BATCH = 256


class Rejected(Exception):
    """One input line that cannot be scored; the run goes on."""

    def __init__(self, line: int, item_id: str | None, reason: str) -> None:
        super().__init__(reason)
        self.line, self.item_id, self.reason = line, item_id, reason

    def json(self) -> str:
        return json.dumps({"id": self.item_id, "line": self.line, "error": self.reason})


def read_jsonl(stream: IO[str]) -> Iterator[tuple[str, str] | Rejected]:
    """Each line's (id, text), or why it is unusable."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield Rejected(number, None, f"not JSON: {e.msg} at column {e.colno}")
            continue
        yield _row(number, row)


def read_csv(
    stream: IO[str], text_column: str, id_column: str | None
) -> Iterator[tuple[str, str] | Rejected]:
    reader = csv.DictReader(stream)
    if reader.fieldnames is None or text_column not in reader.fieldnames:
        raise ValueError(
            f"no column {text_column!r} in the CSV header ({', '.join(reader.fieldnames or [])})"
        )
    if id_column and id_column not in reader.fieldnames:
        raise ValueError(f"no column {id_column!r} in the CSV header ({', '.join(reader.fieldnames)})")
    for number, row in enumerate(reader, start=2):
        yield _row(number, {"id": row[id_column] if id_column else str(number - 1), "text": row[text_column]})


def _row(number: int, row: Any) -> tuple[str, str] | Rejected:
    if not isinstance(row, dict):
        return Rejected(number, None, "expected an object with id and text")
    item_id, text = row.get("id"), row.get("text")
    if item_id is None or isinstance(item_id, (dict, list, bool)):
        return Rejected(number, None, "id is missing (a string or a number)")
    if not isinstance(text, str):
        return Rejected(number, str(item_id), "text is missing or not a string")
    if not text.strip():
        return Rejected(number, str(item_id), "text is empty")
    return str(item_id), text


def taxonomy_from(value: str) -> Taxonomy:
    if value in PRESETS:
        return PRESETS[value]
    path = Path(value)
    if not path.exists():
        raise ValueError(f"--taxonomy {value!r} is neither a preset ({', '.join(PRESETS)}) nor a file")
    try:
        return Taxonomy.model_validate_json(path.read_text())
    except ValidationError as e:
        raise ValueError(f"--taxonomy {value}: {_first_error(e)}") from e


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def cmd_score(args: argparse.Namespace) -> int:
    from services.scoring.scorer import MODEL_DIR, Scorer, Text

    taxonomy = taxonomy_from(args.taxonomy)
    stream: IO[str] = sys.stdin if args.input in (None, "-") else open(args.input, encoding="utf-8-sig")  # noqa: SIM115
    scorer = Scorer(Path(args.model) if args.model else MODEL_DIR)  # after the input opened: fail fast
    out = sys.stdout
    rows = read_csv(stream, args.text_column, args.id_column) if args.csv else read_jsonl(stream)
    batch: list[Text] = []
    errors = 0

    def flush() -> None:
        for scored in scorer.score(batch, taxonomy):
            out.write(
                scored.model_dump_json(exclude={"taxonomy", "model_version"} if args.brief else None) + "\n"
            )
        batch.clear()

    try:
        for row in rows:
            if isinstance(row, Rejected):
                flush()  # keep the output in input order
                errors += 1
                out.write(row.json() + "\n")
                continue
            batch.append(Text(*row))
            if len(batch) >= BATCH:
                flush()
        flush()
    finally:
        if stream is not sys.stdin:
            stream.close()
    if errors:
        print(f"cxloop score: {errors} line(s) could not be scored", file=sys.stderr)
    return 0


def cmd_model_train(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.scoring.scorer import MODEL_DIR
    from services.scoring.training import data, train

    admin = admin_of(args) if args.shop else None  # an unknown --shop fails before the data is read
    data_dir = Path(args.data) if args.data else data.default_data_dir()
    if not (data_dir / "sentiment").is_dir():
        raise ValueError(
            f"--data: no training data at {data_dir} (expected ../shared/data or a folder like it)"
        )
    examples = data.load(data_dir)
    output = Path(args.output) if args.output else MODEL_DIR
    if args.shop:
        from services.scoring.training.shop import shop_examples

        invitations = _survey_store(admin).invitations(args.shop)
        own = shop_examples(args.shop, invitations)
        print(f"shop {args.shop}: {len(own)} labelled comments", file=sys.stderr)
        if args.output is None:
            output = Path(".cxloop") / "models" / args.shop
        examples = [*examples, *own]
    meta = train.train_all(examples, output, Path(args.work), seed=args.seed)
    print(json.dumps({"model": str(output), "version": meta["version"], **meta["cxloop"]}, indent=2))
    if args.shop:
        from services.scoring.training.compare import compare_on_shop

        print("\n".join(compare_on_shop(args.shop, examples, base=MODEL_DIR, adapted=output)))
    return 0


def _survey_store(admin: Any) -> Any:
    from services.feedback.adapters.dynamo_surveys import DynamoSurveyStore

    return DynamoSurveyStore(admin.dynamodb, admin.resources.tables["feedback"])


def _taxonomies(admin: Any) -> Any:
    from services.scoring.adapters.dynamo_taxonomies import DynamoTaxonomyStore

    return DynamoTaxonomyStore(admin.dynamodb, admin.resources.tables["shops"])


def cmd_themes_set(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    if admin.shops.get(args.shop) is None:
        raise ValueError(f"no shop {args.shop!r} (add it with `cxloop shop add`)")
    taxonomy = taxonomy_from(args.taxonomy)
    _taxonomies(admin).put(args.shop, taxonomy)
    print(taxonomy.model_dump_json(indent=2))
    return 0


def cmd_themes_show(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    stored = _taxonomies(admin_of(args)).get(args.shop)
    if stored is None:
        print(
            f"shop {args.shop!r} has no taxonomy of its own: the default (ecommerce) applies", file=sys.stderr
        )
        stored = PRESETS["ecommerce"]
    print(stored.model_dump_json(indent=2))
    return 0


def add_commands(sub: Any, admin_of: AdminFactory) -> None:
    sc = sub.add_parser(
        "score", help="score texts: JSON lines {id, text} (or CSV) in, one JSON line each out"
    )
    sc.add_argument("input", nargs="?", help="a file (default: stdin)")
    sc.add_argument("--csv", action="store_true", help="the input is CSV with a header row")
    sc.add_argument("--text-column", default="text")
    sc.add_argument("--id-column", help="default: the row number")
    sc.add_argument("--taxonomy", default="ecommerce", help=f"{', '.join(PRESETS)}, or a taxonomy JSON file")
    sc.add_argument("--model", help="a trained model directory (default: the committed one)")
    sc.add_argument("--brief", action="store_true", help="leave out the taxonomy and model version")
    sc.set_defaults(func=cmd_score)

    model = sub.add_parser("model", help="the sentiment and theme model").add_subparsers(
        dest="sub", required=True
    )
    tr = model.add_parser("train", help="train the model from ../shared/data (fixed seed, committed configs)")
    tr.add_argument("--data", help="the labelled sets (default: ../shared/data)")
    tr.add_argument(
        "--output", help="where the model goes (default: the committed one, or .cxloop/models/SHOP)"
    )
    tr.add_argument("--work", default="build/scoring", help="training files and checkpoints")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument(
        "--shop", help="also learn from this shop's scored comments (0-2 negative, 9-10 positive)"
    )
    tr.set_defaults(func=lambda a: cmd_model_train(admin_of, a))

    themes = sub.add_parser("themes", help="a shop's theme taxonomy").add_subparsers(
        dest="sub", required=True
    )
    ts = themes.add_parser("set", help="use a preset or a taxonomy JSON file for a shop")
    ts.add_argument("--shop", required=True)
    ts.add_argument("--taxonomy", required=True, help=f"{', '.join(PRESETS)}, or a JSON file")
    ts.set_defaults(func=lambda a: cmd_themes_set(admin_of, a))
    tw = themes.add_parser("show", help="print the shop's taxonomy")
    tw.add_argument("--shop", required=True)
    tw.set_defaults(func=lambda a: cmd_themes_show(admin_of, a))
