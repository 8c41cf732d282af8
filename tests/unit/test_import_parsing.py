"""The import's reading and row checks without a database (store/importing): file formats and
encodings, the header set, every kind of bad cell and row, each with its line and reason."""

from __future__ import annotations

import codecs
import io
import random
import zipfile
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from store.config import PROJECT_ROOT, load_settings
from store.importing import cells
from store.importing.columns import COLUMNS, title_key
from store.importing.errors import CellError, FileRejected
from store.importing.fields import Context
from store.importing.report import ImportReport
from store.importing.rows import Row, find_header, parse_rows
from store.importing.run import ImportRequest, check_file
from store.importing.settings import ImportLimits
from store.importing.table import read_rows
from store.importing.xlsx_write import write_xlsx

TZ = ZoneInfo("Asia/Shanghai")
LIMITS = ImportLimits(max_upload_bytes=1 << 20, max_rows=100, max_cell_chars=200)
ACCOUNTS_HEAD = "户号,户名,联系电话,用电地址,台区,表号,家庭人口"
GOOD_ACCOUNT = "3302000001,周建平,13805710101,竹林村1组12号,QX12,3330009000000000000101,4"
BILLS_HEAD = "户号,账期,上次示数,本次示数,倍率,电量,一档电量,二档电量,三档电量,电费"


def parse(kind: str, data: bytes, limits: ImportLimits = LIMITS) -> tuple[list[Row], ImportReport]:
    report = ImportReport(kind, "test.csv", dry_run=True)
    raw = read_rows(data, limits)
    header = find_header(kind, raw.rows, limits)
    report.ignored_columns = header.ignored
    ctx = Context(TZ, limits.max_cell_chars)
    return parse_rows(kind, raw.rows, header, ctx, report), report


def reasons(report: ImportReport) -> dict[int, str]:
    return {r.line: "；".join(r.reasons) for r in report.rejections}


# --- cells ------------------------------------------------------------------------------------


def test_numbers_accept_full_width_digits_separators_and_excel_floats() -> None:
    assert cells.integer("１２３４") == 1234
    assert cells.integer("1,234") == 1234
    assert cells.integer("120.0") == 120
    assert cells.money("¥1,234.5元") == Decimal("1234.50")
    assert cells.money("12.300000000000001") == Decimal("12.30")
    assert cells.money("-8.6", signed=True) == Decimal("-8.60")


@pytest.mark.parametrize(
    ("text", "code"),
    [("abc", "not_a_number"), ("1.5", "not_an_integer"), ("-3", "out_of_range"),
     ("99999999999", "out_of_range"), ("NaN", "not_a_number"), ("两", "not_a_number")],
)  # fmt: skip
def test_bad_integers_say_why(text: str, code: str) -> None:
    with pytest.raises(CellError) as caught:
        cells.integer(text)
    assert caught.value.code == code
    assert text in caught.value.reason


def test_negative_money_only_where_signed() -> None:
    with pytest.raises(CellError, match="负数"):
        cells.money("-1")


@pytest.mark.parametrize(
    "text", ["2026-10", "2026/10", "202610", "2026年10月", "2026年 10 月", "2026-10-01", "46296"]
)
def test_periods_in_every_usual_spelling(text: str) -> None:
    assert cells.period(text) == "2026-10"


@pytest.mark.parametrize("text", ["2026-13", "10/2026", "上个月", "1999-10"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(CellError):
        cells.period(text)


def test_dates_and_instants() -> None:
    assert cells.day("2026年11月25日") == date(2026, 11, 25)
    assert cells.day("20261125") == date(2026, 11, 25)
    assert cells.day("46351") == date(2026, 11, 25)  # an Excel date cell
    moment = cells.instant("2026-11-12 09:30", TZ)
    assert moment == datetime(2026, 11, 12, 9, 30, tzinfo=TZ)
    with pytest.raises(CellError):
        cells.day("2026-02-30")
    with pytest.raises(CellError):
        cells.instant("2026-11-12 25:00", TZ)


def test_identifiers() -> None:
    assert cells.account_no("３３０２０００００１") == "3302000001"
    assert cells.account_no("330 3302 000001") == "3303302000001"
    assert cells.phone("+86 138 0571 0101") == "13805710101"
    assert cells.phone("0571-88861234") == "057188861234"
    assert cells.meter_no("3330009-0000 0000 0000 101") == "3330009000000000000101"
    with pytest.raises(CellError, match="科学计数法"):
        cells.meter_no("3.33E+21")
    with pytest.raises(CellError, match="10 位"):
        cells.account_no("33020001")


def test_flags() -> None:
    assert [cells.flag(v) for v in ("是", "Y", "已缴费", "否", "0", "未缴")] == [
        True, True, True, False, False, False,
    ]  # fmt: skip
    with pytest.raises(CellError):
        cells.flag("也许")


# --- files ------------------------------------------------------------------------------------


def _accounts_csv() -> str:
    return f"{ACCOUNTS_HEAD}\n{GOOD_ACCOUNT}\n"


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (lambda t: t.encode("utf-8"), "utf-8"),
        (lambda t: codecs.BOM_UTF8 + t.encode("utf-8"), "utf-8-sig"),
        (lambda t: t.encode("gbk"), "gb18030"),
        (lambda t: t.encode("gb18030"), "gb18030"),
        (lambda t: t.replace(",", "\t").encode("utf-16"), "utf-16"),
    ],
)
def test_csv_in_every_encoding_excel_writes(encode: object, encoding: str) -> None:
    data = encode(_accounts_csv())  # type: ignore[operator]
    raw = read_rows(data, LIMITS)
    assert raw.encoding == encoding
    rows, report = parse("accounts", data)
    assert report.rejections == []
    assert rows[0].values["holder_name"] == "周建平"
    assert rows[0].values["household_size"] == 4


def test_xlsx_reads_like_the_same_csv() -> None:
    table = [line.split(",") for line in _accounts_csv().splitlines()]
    from_xlsx, _ = parse("accounts", write_xlsx(table))
    from_csv, _ = parse("accounts", _accounts_csv().encode())
    assert from_xlsx == from_csv


def test_a_title_row_above_the_header_is_skipped() -> None:
    data = f"青溪镇供电所用户档案,导出时间 2026-12-01\n\n{_accounts_csv()}".encode()
    rows, report = parse("accounts", data)
    assert [r.line for r in rows] == [4]
    assert report.rows == 1


def test_headers_are_matched_loosely_and_unknown_ones_reported() -> None:
    data = (
        "户号*,用户名称,手机号码,用电地址,供电区域,电能表编号,电量（kWh）\n"
        "3302000001,周建平,13805710101,竹林村,QX12,3330009000000000000101,5\n"
    ).encode()
    rows, report = parse("accounts", data)
    assert len(rows) == 1
    assert report.ignored_columns == ["电量（kWh）"]
    assert title_key(" Account_No ") == "account_no"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (random.Random(7).randbytes(4000), "not_text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "xls"),
        (b"PK\x03\x04broken zip", "bad_xlsx"),
        ("户名,电话\n张三,13805710101\n".encode(), "missing_columns"),
        ("户号,用户编号,户名,电话,地址,台区\n".encode(), "duplicate_column"),
        (b"\x81\x30\xff\xfe\xff", "encoding"),
    ],
    ids=["empty", "blank", "garbage", "xls", "bad-zip", "no-header", "two-account-columns",
         "bad-encoding"],
)  # fmt: skip
def test_unreadable_files_are_refused_whole(data: bytes, code: str) -> None:
    with pytest.raises(FileRejected) as caught:
        parse("accounts", data)
    assert caught.value.code == code
    assert caught.value.reason  # a Chinese sentence for the report


def test_header_only_file_has_no_rows() -> None:
    rows, report = parse("accounts", f"{ACCOUNTS_HEAD}\n".encode())
    assert rows == []
    assert report.rows == 0


# --- rows -------------------------------------------------------------------------------------


def test_every_bad_account_row_is_reported_with_its_line() -> None:
    huge = "村" * 5000
    data = "\n".join(
        [
            ACCOUNTS_HEAD,
            GOOD_ACCOUNT,  # line 2: good
            "33020001,短户号,13805710102,竹林村,QX12,3330009000000000000102,3",  # 3
            "3302000003,,13805710103,竹林村,QX12,3330009000000000000103,3",  # 4 no name
            "3302000004,林秀梅,12345,竹林村,QX12,3330009000000000000104,3",  # 5 phone
            "3302000005,黄海,13805710105,竹林村,QX12,3330009000000000000105,两",  # 6 number
            "3302000001,重复,13805710106,竹林村,QX12,3330009000000000000106,3",  # 7 dup key
            "3302000007,何玉兰,13805710107,竹林村,QX12,3330009000000000000101,3",  # 8 dup meter
            f"3302000008,宋志刚,13805710108,{huge},QX12,3330009000000000000108,3",  # 9 huge
            "3302000009,孙丽,13805710109,竹林村,QX12,3330009000000000000109,0",  # 10 range
        ]
    ).encode()
    rows, report = parse("accounts", data)
    assert [r.line for r in rows] == [2]
    found = reasons(report)
    assert sorted(found) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "户号" in found[3]
    assert found[4] == "缺少户名"
    assert "电话" in found[5]
    assert "家庭人口" in found[6]
    assert "与第 2 行重复" in found[7]
    assert "表号 3330009000000000000101" in found[8]
    assert "内容过长" in found[9]
    assert "超出范围" in found[10]
    assert report.rows == 9


def test_bill_rows_are_checked_across_fields() -> None:
    data = "\n".join(
        [
            BILLS_HEAD,
            "3302000001,2026-10,100,300,1,200,200,0,0,107.60",  # 2 good
            "3302000002,2026-10,300,100,1,,,,,10",  # 3 readings backwards
            "3302000003,2026-10,100,300,2,200,,,,10",  # 4 kWh vs readings x multiplier
            "3302000004,2026-10,100,300,1,200,150,0,0,10",  # 5 tiers do not add up
            "3302000005,2026-10,100,300,1,200,200,,,10",  # 6 tiers half given
            "3302000001,2026/10,0,10,1,10,10,0,0,5",  # 7 same account and period
            "3302000006,2026-13,0,10,1,10,10,0,0,5",  # 8 bad period
            "3302000007,2026-10,0,10,1,10,10,0,0,",  # 9 no amount
        ]
    ).encode()
    rows, report = parse("bills", data)
    assert [r.line for r in rows] == [2]
    found = reasons(report)
    assert "小于上次示数" in found[3]
    assert "与示数不符" in found[4]
    assert "不等于电量" in found[5]
    assert "同时填写" in found[6]
    assert "与第 2 行重复" in found[7]
    assert "账期" in found[8]
    assert found[9] == "缺少电费"


def test_bill_kwh_is_derived_from_the_readings_when_absent() -> None:
    data = "户号,账期,上次示数,本次示数,倍率,电费\n3302000001,2026-10,100,130,20,300\n"
    rows, report = parse("bills", data.encode())
    assert report.rejections == []
    assert rows[0].values["kwh"] == 600


def test_too_many_rows_is_refused() -> None:
    limits = ImportLimits(max_upload_bytes=1 << 20, max_rows=3, max_cell_chars=200)
    body = "\n".join(GOOD_ACCOUNT.replace("000001", f"00000{i}") for i in range(1, 6))
    request = ImportRequest("accounts", "x.csv", f"{ACCOUNTS_HEAD}\n{body}\n".encode(), "t")
    report = ImportReport("accounts", "x.csv", dry_run=True)
    with pytest.raises(FileRejected) as caught:
        check_file(request, load_settings(), limits, report)
    assert caught.value.code == "too_many_rows"


def test_no_title_names_two_columns_of_one_kind() -> None:
    for kind, columns in COLUMNS.items():
        assert any(c.required for c in columns), kind
        owners: dict[str, set[str]] = {}
        for column in columns:
            for title in column.titles:
                owners.setdefault(title_key(title), set()).add(column.field)
        assert {k: v for k, v in owners.items() if len(v) > 1} == {}, kind


def test_the_documented_header_set_is_the_code_s() -> None:
    """docs/import.md lists every kind's columns with every accepted title, and their required
    marks, exactly as store/importing/columns.py has them."""
    doc = (PROJECT_ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    for kind, columns in COLUMNS.items():
        section = doc.split(f"### {kind}\n", 1)[1].split("\n#", 1)[0]
        for column in columns:
            row = f"| `{column.field}` | {'yes' if column.required else ''} | "
            row += " · ".join(column.titles) + " |"
            assert row in section, (kind, column.field)


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def excel_like(sheet_rows: str, strings: list[str]) -> bytes:
    """An XLSX as Excel writes one: shared strings (one of them rich text), numbers, a date
    serial, a boolean; no workbook part, so the reader falls back to sheet1."""
    items = "".join(
        f"<si><r><t>{s[:1]}</t></r><r><t>{s[1:]}</t></r></si>" if i == 0 else f"<si><t>{s}</t></si>"
        for i, s in enumerate(strings)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN_NS}">{items}</sst>')
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{MAIN_NS}"><sheetData>{sheet_rows}</sheetData></worksheet>',
        )
    return buffer.getvalue()


def test_xlsx_shared_strings_numbers_dates_and_gaps() -> None:
    strings = ["户号", "账期", "上次示数", "本次示数", "电费", "已缴费"]
    head = "".join(f'<c r="{col}1" t="s"><v>{i}</v></c>' for i, col in enumerate("ABCDEF"))
    row = (
        '<c r="A3"><v>3302000001</v></c><c r="B3"><v>46296</v></c><c r="C3"><v>100</v></c>'
        '<c r="D3"><v>130.0</v></c><c r="E3"><v>16.140000000000001</v></c>'
        '<c r="F3" t="b"><v>1</v></c>'
    )
    data = excel_like(f'<row r="1">{head}</row><row r="3">{row}</row>', strings)
    rows, report = parse("bills", data)
    assert report.rejections == []
    assert rows == [
        Row(3, {"account_no": "3302000001", "period": "2026-10", "last_reading": 100,
                "this_reading": 130, "multiplier": 1, "kwh": 30,
                "energy_amount": Decimal("16.14"), "paid": True}),
    ]  # fmt: skip


def test_an_xlsx_that_unpacks_too_far_is_refused_before_reading() -> None:
    big = '<row r="1">' + "<c><v>1</v></c>" * 20000 + "</row>"
    data = excel_like(big, ["x"])
    with pytest.raises(FileRejected) as caught:
        read_rows(data, ImportLimits(max_upload_bytes=1024))
    assert caught.value.code == "too_large"


def test_an_xlsx_with_a_document_type_is_refused() -> None:
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'{bomb}<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1"><c t="inlineStr">'
            "<is><t>&b;</t></is></c></row></sheetData></worksheet>",
        )
    with pytest.raises(FileRejected, match="DOCTYPE"):
        read_rows(buffer.getvalue(), LIMITS)


@pytest.mark.parametrize("name", ["accounts", "bills"])
def test_the_sample_workbooks_hold_what_their_csv_files_hold(name: str) -> None:
    samples = PROJECT_ROOT / "docs" / "samples"
    from_csv, csv_report = parse(name, (samples / f"{name}.csv").read_bytes())
    from_xlsx, xlsx_report = parse(name, (samples / f"{name}.xlsx").read_bytes())
    assert csv_report.rejections == xlsx_report.rejections == []
    assert from_xlsx == from_csv
    assert len(from_csv) == 5
