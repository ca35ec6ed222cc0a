"""`cxloop churn evaluate`: its options refused by name, the invoices' rows and columns read or refused
with the row and column named, and the cut-offs the file can answer."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest

from cxloop.churn_commands import Ranking, check_dates, ranking
from cxloop.cli import main
from cxloop.cli_errors import CliError
from cxloop.invoices import InvoiceError, read
from services.notifier.domain.churn import Order

HEADER = "invoice,customer_id,invoice_date,total,cancelled,n_lines,n_items,country\n"


def write(tmp_path: Path, body: str, name: str = "invoices.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    data = (header + body).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def test_reads_plain_and_gzip(tmp_path: Path) -> None:
    body = "1,c1,2010-01-02T10:00:00,12.50,false,1,2,UK\nC2,c1,2010-01-03,-12.50,true,1,-2,UK\n"
    for name in ("a.csv", "a.csv.gz"):
        orders = read(write(tmp_path, body, name))
        assert orders == {
            "c1": [Order(datetime(2010, 1, 2, 10), 12.5), Order(datetime(2010, 1, 3), -12.5, cancelled=True)]
        }


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("1,c1,02/01/2010,1,false,1,1,UK\n", "row 2, column invoice_date: '02/01/2010' is not a date"),
        ("1,c1,2010-01-02,abc,false,1,1,UK\n", "row 2, column total: 'abc' is not a number"),
        ("1,c1,2010-01-02,nan,false,1,1,UK\n", "row 2, column total: 'nan' is not a number"),
        ("1,c1,2010-01-02,1,maybe,1,1,UK\n", "row 2, column cancelled: 'maybe' is not true or false"),
        ("1,,2010-01-02,1,false,1,1,UK\n", "row 2, column customer_id: empty"),
        ("1,c1,2010-01-02,1,false,1,1,UK\n2,c1,2010-01-02\n", "row 3: 8 columns expected"),
        ("", "no invoices after the header"),
    ],
)
def test_a_bad_row_is_named(tmp_path: Path, body: str, said: str) -> None:
    with pytest.raises(InvoiceError, match=said.replace("(", r"\(")):
        read(write(tmp_path, body))


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "1,c1,2010-01-02,1\n", header="invoice,customer_id,date,total\n")
    with pytest.raises(InvoiceError, match="no column invoice_date, cancelled in the header"):
        read(path)


def test_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.csv.gz"
    path.write_text(HEADER)
    with pytest.raises(InvoiceError, match="not a readable gzip'd UTF-8 CSV"):
        read(path)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--at", "24/09/2010"], "argument --at: '24/09/2010' is not a date"),
        (["--at", "2010-09-24", "--fit-at", "soon"], "argument --fit-at: 'soon' is not a date"),
        (["--at", "2010-09-24", "--horizon-days", "0"], "argument --horizon-days: '0' is not a whole number"),
        (["--at", "2010-09-24T00:00+02:00"], "argument --at: '2010-09-24T00:00+02:00' has a time zone"),
    ],
)
def test_options_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    path = write(tmp_path, "1,c1,2010-01-02,1,false,1,1,UK\n")
    with pytest.raises(SystemExit) as caught:
        main(["churn", "evaluate", "--invoices", str(path), *argv])
    assert caught.value.code == 2 and said in capsys.readouterr().err


def test_a_missing_file_is_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["churn", "evaluate", "--invoices", str(tmp_path / "none.csv"), "--at", "2010-09-24"])
    assert "argument --invoices: " in capsys.readouterr().err


def test_a_bad_row_exits_with_its_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "1,c1,2010-13-02,1,false,1,1,UK\n")
    assert main(["churn", "evaluate", "--invoices", str(path), "--at", "2010-09-24"]) == 2
    assert "row 2, column invoice_date: '2010-13-02' is not a date" in capsys.readouterr().err


def test_the_cut_offs_must_fit_the_file() -> None:
    orders = {"c": [Order(datetime(2010, 1, 1), 1.0), Order(datetime(2010, 6, 30), 1.0)]}
    day = datetime.fromisoformat
    check_dates(
        orders, day("2010-04-01"), day("2010-01-01T12:00"), day("2010-04-01") - day("2010-01-01T12:00")
    )
    with pytest.raises(CliError, match="--fit-at 2010-03-01: its 90-day horizon ends 2010-05-30, after --at"):
        check_dates(orders, day("2010-04-01"), day("2010-03-01"), day("2010-05-30") - day("2010-03-01"))
    with pytest.raises(CliError, match="the invoices end 2010-06-30, before the horizon does"):
        check_dates(orders, day("2010-05-01"), day("2010-01-15"), day("2010-08-01") - day("2010-05-01"))
    with pytest.raises(CliError, match="--fit-at 2009-12-01: no invoice before it"):
        check_dates(orders, day("2010-03-01"), day("2009-12-01"), day("2010-03-01") - day("2009-12-01"))


def test_the_line_format() -> None:
    assert Ranking("recency", 0.7625, 0.93, 1.0).line() == "recency auc=0.762 p5=0.930 p10=1.000"
    # 20 customers: the two riskiest churned, then the rest alternate
    scores = [20 - i for i in range(20)]
    labels = [1, 1] + [i % 2 for i in range(18)]
    r = ranking("x", [float(s) for s in scores], labels)
    # 11 churners, 9 stayers: the top two beat all 9; those at ranks 4, 6, .., 20 beat 8, 7, .., 0
    assert (r.p5, r.p10) == (1.0, 1.0) and r.auc == pytest.approx((2 * 9 + 36) / (11 * 9))
