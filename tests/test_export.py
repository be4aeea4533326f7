"""archiver export (issue 13): an archive built by the archiver itself from a loopback server,
exported in each format and read back with the tools those formats are for."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import lxml.html
import pytest
from click.testing import CliRunner
from test_pipeline import run_archive
from wacz.main import main as wacz_main
from webserver import Handler, WebServer

from archiver.cli import cli
from archiver.publish.export import csl_names
from archiver.store import EXPORT_COLUMNS, MementoLookup, open_db, save_mementos

SCHEMA = Path(__file__).parent / "data" / "csl-data.json"

SOURCE_PAGE = (
    "<html><head><title>Port traffic report</title>"
    '<meta name="author" content="Jane Doe">'
    '<meta property="og:site_name" content="The Harbour Gazette">'
    '<meta property="article:published_time" content="2020-03-02">'
    "</head><body><article><h1>Port traffic report</h1><p>Container traffic through the port "
    "rose by 12 per cent in 2020, the authority reported. The new terminal cost US$1.2 billion "
    "and was built in three years.</p></article></body></html>"
)
SNAPSHOT = "https://web.archive.org/web/20200305000000/{url}"


def _source(h: Handler) -> None:
    h.respond(200, SOURCE_PAGE.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def archive(tmp_path: Path, web_server: WebServer) -> dict[str, Any]:
    """An article citing a page, a redirect to another page, a 404 and a lost link, archived by
    ``archiver archive``; the page has a web-archive snapshot in ``mementos``."""
    web_server.routes["/source"] = _source
    urls = {
        "source": web_server.url("/source"),
        "redirect": web_server.url("/redirect/301/1"),
        "missing": web_server.url("/status/404"),
    }
    article = tmp_path / "article.md"
    article.write_text(
        "# Harbour news\n\n"
        "Originally published by The Example Review, 12th March 2021\n\n"
        f"Container traffic through the port [rose by 12 per cent]({urls['source']}) in 2020. "
        f"A second page [says hello]({urls['redirect']}).\n\n"
        f"A page that is [gone now]({urls['missing']}), and one whose [link was lost](#).\n",
        encoding="utf-8",
    )
    db_path = tmp_path / "db" / "citations.db"
    run_archive(article, db_path)
    db = open_db(db_path)
    save_mementos(
        db,
        [
            MementoLookup(
                url=urls["source"],
                article_date="2021-03-12",
                status="found",
                looked_up_at="2024-01-01T00:00:00Z",
                memento_url=SNAPSHOT.format(url=urls["source"]),
                memento_datetime="2020-03-05T00:00:00Z",
                distance_days=-372.0,
                source="wayback",
            )
        ],
    )
    return {"db": db_path, "urls": urls, "tmp": tmp_path}


def export(db_path: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["export", "--db", str(db_path), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_csv_has_one_row_per_citation(archive: dict[str, Any]) -> None:
    result = export(archive["db"], "--format", "csv")
    assert result.exit_code == 0, result.output
    text = result.stdout_bytes.decode()  # .stdout turns CRLF into LF
    assert text.startswith(",".join(EXPORT_COLUMNS) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    urls = archive["urls"]
    assert [(r["position"], r["url"]) for r in rows] == [
        ("1", urls["source"]),
        ("2", urls["redirect"]),
        ("3", urls["missing"]),
        ("4", ""),
    ]
    source = rows[0]
    assert source["article_title"] == "Harbour news"
    assert source["article_published"] == "2021-03-12"
    assert source["anchor_text"] == "rose by 12 per cent"
    assert source["claim"] == "Container traffic through the port rose by 12 per cent in 2020."
    assert source["source_title"] == "Port traffic report"
    assert (source["latest_outcome"], source["link_status"]) == ("ok", "")  # until a check
    assert source["evidence_label"] in ("supported", "partial")
    assert "12 per cent" in source["evidence_passage"]
    assert source["captured_at"].startswith("20")
    assert source["memento_url"] == SNAPSHOT.format(url=urls["source"])
    assert source["memento_datetime"] == "2020-03-05T00:00:00Z"
    assert rows[1]["latest_outcome"] == "redirected" and rows[1]["memento_url"] == ""
    assert rows[2]["latest_outcome"] == "not_found" and rows[2]["captured_at"] == ""
    assert rows[3]["href"] == "#" and rows[3]["evidence_label"] == "unavailable"


def test_json_rows_match_the_csv(archive: dict[str, Any]) -> None:
    rows = json.loads(export(archive["db"], "--format", "json").stdout)
    as_csv = list(csv.DictReader(io.StringIO(export(archive["db"], "--format", "csv").stdout)))
    assert [list(row) for row in rows] == [list(EXPORT_COLUMNS)] * 4
    assert [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows] == as_csv
    assert rows[0]["position"] == 1 and rows[3]["url"] is None


def test_csl_json_validates_against_the_csl_schema(archive: dict[str, Any]) -> None:
    items = json.loads(export(archive["db"], "--format", "csl-json").stdout)
    jsonschema.validate(items, json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert [item["id"] for item in items] == sorted(archive["urls"].values())
    source = next(item for item in items if item["id"] == archive["urls"]["source"])
    assert source["type"] == "webpage"
    assert source["title"] == "Port traffic report"
    assert source["author"] == [{"family": "Doe", "given": "Jane"}]
    assert source["container-title"] == "The Harbour Gazette"
    assert source["issued"] == {"date-parts": [[2020, 3, 2]]}
    assert source["URL"] == archive["urls"]["source"]
    assert len(source["accessed"]["date-parts"][0]) == 3


@pytest.mark.parametrize(
    ("author", "names"),
    [
        ("Jane Doe", [{"family": "Doe", "given": "Jane"}]),
        (
            "Mary-Ann O'Neil; J. R. Smith",
            [
                {"family": "O'Neil", "given": "Mary-Ann"},
                {"family": "Smith", "given": "J. R."},
            ],
        ),
        ("Ludwig van Beethoven", [{"literal": "Ludwig van Beethoven"}]),
        ("Reuters", [{"literal": "Reuters"}]),
        ("Staff writer 2", [{"literal": "Staff writer 2"}]),
    ],
)
def test_csl_names_split_only_plain_personal_names(
    author: str, names: list[dict[str, str]]
) -> None:
    assert csl_names(author) == names


def test_robust_html_decorates_every_resolved_link(archive: dict[str, Any]) -> None:
    result = export(
        archive["db"], "--format", "robust-html", "--replay-prefix", "https://replay.example/c/"
    )
    assert result.exit_code == 0, result.output
    page = lxml.html.document_fromstring(result.stdout)
    links = {a.text_content(): a.attrib for a in page.iter("a")}
    urls = archive["urls"]
    assert set(links) == {"rose by 12 per cent", "says hello", "gone now"}
    source = links["rose by 12 per cent"]
    assert source["href"] == source["data-originalurl"] == urls["source"]
    assert source["data-versionurl"] == SNAPSHOT.format(url=urls["source"])
    assert source["data-versiondate"] == "2020-03-05"
    local = links["says hello"]  # no snapshot: its local capture, replayed
    assert local["data-originalurl"] == urls["redirect"]
    day = local["data-versiondate"]
    assert len(day) == 10 and day[4] == day[7] == "-"
    assert local["data-versionurl"].startswith("https://replay.example/c/" + day.replace("-", ""))
    assert local["data-versionurl"].endswith("/" + urls["redirect"])
    assert set(links["gone now"]) == {"href", "data-originalurl"}  # a 404: no version to show
    assert "link was lost" in page.text_content()
    assert page.findtext(".//h1") == "Harbour news"


def test_wacz_opens_and_lists_every_capture(archive: dict[str, Any]) -> None:
    out = archive["tmp"] / "citations.wacz"
    result = export(archive["db"], "--format", "wacz", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert wacz_main(["validate", "-f", str(out)]) == 0
    urls = archive["urls"]
    final = urls["redirect"].replace("/redirect/301/1", "/ok")
    with zipfile.ZipFile(out) as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
        index = gzip.decompress(package.read("indexes/index.cdx.gz")).decode()
        assert package.getinfo("archive/citations.warc.gz").compress_type == zipfile.ZIP_STORED
    db = open_db(archive["db"])
    captures = list(db["captures"].rows_where("warc_path is not null", order_by="url, id"))
    assert pages[0]["format"] == "json-pages-1.0"
    assert sorted(page["id"] for page in pages[1:]) == sorted(
        f"capture-{c['id']}" for c in captures
    )
    titles = {page["url"]: page["title"] for page in pages[1:]}
    assert titles == {
        urls["source"]: "Port traffic report",
        final: "OK page",  # the cited page's title, on the page it redirected to
        urls["missing"]: urls["missing"],
    }
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in index.splitlines()}
    assert indexed == {urls["source"], urls["redirect"], final, urls["missing"]}


def test_wacz_needs_an_output_file(archive: dict[str, Any]) -> None:
    result = export(archive["db"], "--format", "wacz")
    assert result.exit_code == 2
    assert "give it -o PATH" in result.stderr


def test_unknown_article_is_a_usage_error(archive: dict[str, Any]) -> None:
    result = export(archive["db"], "--format", "csv", "--article", "9")
    assert result.exit_code == 2
    assert "no article 9" in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "json", "csl-json", "robust-html"])
def test_text_exports_are_byte_identical(archive: dict[str, Any], fmt: str) -> None:
    first, second = archive["tmp"] / "first", archive["tmp"] / "second"
    assert export(archive["db"], "--format", fmt, "-o", str(first)).exit_code == 0
    assert (
        export(archive["db"], "--format", fmt, "--article", "1", "-o", str(second)).exit_code == 0
    )
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == export(archive["db"], "--format", fmt).stdout_bytes


def test_wacz_exports_differ_only_in_created(archive: dict[str, Any]) -> None:
    first, second = archive["tmp"] / "first.wacz", archive["tmp"] / "second.wacz"
    for out in (first, second):
        assert export(archive["db"], "--format", "wacz", "-o", str(out)).exit_code == 0
    with zipfile.ZipFile(first) as one, zipfile.ZipFile(second) as two:
        assert [(i.filename, i.date_time, i.compress_type) for i in one.infolist()] == [
            (i.filename, i.date_time, i.compress_type) for i in two.infolist()
        ]
        for name in one.namelist():
            if name == "datapackage.json":
                packages = [json.loads(z.read(name)) for z in (one, two)]
                assert [p.pop("created") for p in packages]  # the one field that may differ
                assert packages[0] == packages[1]
            elif name != "datapackage-digest.json":  # the digest of datapackage.json
                assert one.read(name) == two.read(name), name
