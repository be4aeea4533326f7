"""archiver resolve end to end: an article whose hrefs were lost, archived, then resolved from
another copy served on 127.0.0.1, from a map, and from a fake web archive (issue 13)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_resolve import EXPECTED, ORIGINAL, OURS
from webserver import Handler, WebServer, text

from archiver.cli import cli
from archiver.store import open_db

COPY_PATH = "/2019/05/water-rail-rivalry"
FAST = ["--allow-private-addresses", "--delay", "0"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def on(server: WebServer, url: str | None) -> str | None:
    """``https://host/path`` of the test article, moved under /cited/ on ``server``."""
    return url and url.replace("https://", server.url("/cited/"))


@pytest.fixture
def cited(second_web_server: WebServer) -> WebServer:
    """The cited pages, on 127.0.0.2 (links to the copy's own host would be site links)."""
    second_web_server.routes["/cited/"] = lambda h: h.respond(
        200, f"<html><body><p>The page at {h.path}.</p></body></html>".encode()
    )
    return second_web_server


@pytest.fixture
def copy_url(web_server: WebServer, cited: WebServer) -> str:
    """Another copy of the article, with its links, an extra paragraph and one link fewer."""
    page = ORIGINAL.replace("https://", cited.url("/cited/"))
    web_server.routes[COPY_PATH] = text(page, content_type="text/html; charset=utf-8")
    return web_server.url(COPY_PATH)


@pytest.fixture
def article(tmp_path: Path, db_path: Path) -> Path:
    """Our copy (every href lost), archived."""
    path = tmp_path / "ours.md"
    path.write_text(OURS, encoding="utf-8")
    assert run("archive", str(path), "--db", str(db_path), "--silent")[0] == 0
    return path


def urls(db_path: Path) -> list[str | None]:
    db = open_db(db_path)
    return [row["url"] for row in db.query("select url from citations order by position")]


def resolve(db_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run("resolve", *args, "--db", str(db_path), *FAST, "--json")
    return code, json.loads(out) if out else {}, err


def test_from_a_copy_every_link_goes_to_its_place(
    db_path: Path, article: Path, copy_url: str, cited: WebServer
) -> None:
    code, summary, err = resolve(db_path, str(article), "--from", copy_url)
    assert code == 0
    assert urls(db_path) == [on(cited, url) for url in EXPECTED]
    db = open_db(db_path)
    assert {row["href"] for row in db.query("select href from citations")} == {"#"}
    assert summary["filled"] == 12 and summary["unmatched"] == [5]
    assert "unmatched: 5 'Caspian pipeline'" in err
    assert "12 citation URL(s) filled" in err


def test_json_shape(db_path: Path, article: Path, copy_url: str, cited: WebServer) -> None:
    _, summary, _ = resolve(db_path, "1", "--from", copy_url)
    assert set(summary) == {"db", "article_id", "title", "filled", "unmatched", "resolutions"}
    assert summary["article_id"] == 1
    assert summary["title"] == "Water, rail and rivalry on the Caspian steppe"
    first, pipeline = summary["resolutions"][0], summary["resolutions"][4]
    assert first == {
        "position": 1,
        "anchor_text": "security guarantees",
        "url": on(cited, EXPECTED[0]),
        "confidence": first["confidence"],
        "method": "anchor+claim",
        "source": f"from:{copy_url}",
        "status": "filled",
    }
    assert first["confidence"] > 0.9
    assert pipeline | {"source": None} == {
        "position": 5,
        "anchor_text": "Caspian pipeline",
        "url": None,
        "confidence": 0.0,
        "method": "unmatched",
        "source": None,
        "status": "unmatched",
    }


def test_rerun_changes_nothing_and_adds_no_rows(
    db_path: Path, article: Path, copy_url: str
) -> None:
    resolve(db_path, str(article), "--from", copy_url)
    before = urls(db_path)
    code, summary, _ = resolve(db_path, str(article), "--from", copy_url)
    assert code == 0 and urls(db_path) == before
    assert summary["filled"] == 0
    assert {r["status"] for r in summary["resolutions"]} == {"unchanged", "unmatched"}
    assert open_db(db_path)["resolutions"].count == 13  # one per citation and source


def test_map_wins_over_from_and_survives_its_rerun(
    db_path: Path, article: Path, copy_url: str, cited: WebServer, tmp_path: Path
) -> None:
    found = tmp_path / "found.csv"
    found.write_text(
        "position,anchor_text,url\n"
        "4,,https://trade.example/by-hand\n"
        ",Caspian pipeline,https://cpc.example/route\n",
        encoding="utf-8",
    )
    resolve(db_path, str(article), "--from", copy_url)
    code, summary, _ = resolve(db_path, str(article), "--map", str(found))
    assert code == 0
    assert [(r["position"], r["status"], r["method"]) for r in summary["resolutions"]] == [
        (4, "filled", "position"),
        (5, "filled", "anchor_text"),
    ]
    code, summary, _ = resolve(db_path, str(article), "--from", copy_url)
    assert code == 0 and summary["filled"] == 0
    (trade,) = [r for r in summary["resolutions"] if r["position"] == 4]
    assert (trade["url"], trade["status"]) == (on(cited, EXPECTED[3]), "outranked")
    assert urls(db_path)[3:5] == ["https://trade.example/by-hand", "https://cpc.example/route"]


def test_a_bad_map_is_one_error_line_and_writes_nothing(
    db_path: Path, article: Path, tmp_path: Path
) -> None:
    found = tmp_path / "found.csv"
    found.write_text(
        "position,anchor_text,url\n99,,https://x.example/\n,Turkmenistan,https://y.example/\n",
        encoding="utf-8",
    )
    code, out, err = run("resolve", str(article), "--map", str(found), "--db", str(db_path))
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {found}: line 2: position '99' is not between 1 and 13; line 3: the anchor "
        "text 'Turkmenistan' is ambiguous (positions 9, 10): give a position\n"
    )
    assert open_db(db_path)["resolutions"].count == 0


def test_archive_then_fetches_the_resolved_urls(
    db_path: Path, article: Path, copy_url: str, cited: WebServer, tmp_path: Path
) -> None:
    resolve(db_path, str(article), "--from", copy_url)
    code, out, _ = run(
        "archive", str(article), "--db", str(db_path), "--warc-dir", str(tmp_path / "warc"),
        *FAST, "--json", "--silent",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["fetch"]["outcomes"] == {"ok": 12}
    fetched = {r.path for r in cited.requests if r.path.startswith("/cited/")}
    assert fetched == {str(on(cited, url)).removeprefix(cited.url("")) for url in EXPECTED if url}
    # Archiving the article again rewrote its citations from the file, where the hrefs are lost.
    assert urls(db_path) == [on(cited, url) for url in EXPECTED]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["7", "--from", "x.md"], "no article '7' in"),
        (["1"], "say where the links come from"),
        (["1", "--from", "x.md", "--find"], "--from and --find are two ways"),
    ],
)
def test_usage_errors(db_path: Path, article: Path, args: list[str], message: str) -> None:
    code, out, err = run("resolve", *args, "--db", str(db_path))
    assert (code, out) == (2, "") and message in err


def test_a_copy_that_cannot_be_read(db_path: Path, article: Path, tmp_path: Path) -> None:
    code, _, err = run("resolve", "1", "--from", str(tmp_path / "nope.md"), "--db", str(db_path))
    assert code == 2 and err == f"Error: {tmp_path / 'nope.md'}: no such file\n"


# --- --find: a fake web archive ------------------------------------------------------------

RIGHT = "https://review.example/2019/05/water-rail-rivalry"
UNRELATED = """<!doctype html><html><head><title>{title} | Caspian Review</title></head><body>
<article><h1>{title}</h1>
<p>The harvest was late this year, <a href="https://farm.example/harvest">ministry data</a>
show, and grain prices rose in every market of the region.</p>
<p>Exporters blame the <a href="https://rail.example/wagons">shortage of wagons</a> on the
border, where queues now last a week.</p>
</article></body></html>"""


class FakeArchive:
    """CDX (prefix, from, to, collapse) and raw replays (``/web/<ts>id_/<url>``) of ``pages``."""

    def __init__(self, server: WebServer, pages: dict[str, tuple[str, str]]) -> None:
        self.pages = pages  # original URL -> (timestamp, HTML)
        self.server = server
        server.routes["/cdx/search/cdx"] = self.cdx
        server.routes["/web/"] = self.web

    @property
    def cdx_endpoint(self) -> str:
        return self.server.url("/cdx/search/cdx")

    def cdx(self, h: Handler) -> None:
        prefix = h.query["url"]
        rows = [
            [ts, original, "200", "text/html", "DIGEST"]
            for original, (ts, _) in sorted(self.pages.items())
            if re.sub("^https?://", "", original).startswith(prefix)
            and h.query["from"] <= ts <= h.query["to"]
        ]
        header = h.query["fl"].split(",")
        h.respond(200, json.dumps([header, *rows] if rows else []).encode(), "application/json")

    def web(self, h: Handler) -> None:
        replay = re.fullmatch(r"/web/(\d{14})id_/(.+)", h.path)
        page = self.pages.get(replay.group(2)) if replay else None
        if page is None:
            h.respond(404, b"not archived")
        else:
            h.respond(200, page[1].encode())


@pytest.fixture
def archive_with(web_server: WebServer) -> Iterator[Any]:
    def make(pages: dict[str, tuple[str, str]]) -> FakeArchive:
        return FakeArchive(web_server, pages)

    yield make


def find(db_path: Path, archive: FakeArchive, *extra: str) -> tuple[int, dict[str, Any], str]:
    return resolve(
        db_path, "1", "--find", "--site", "review.example", "--cdx-endpoint",
        archive.cdx_endpoint, *extra,
    )  # fmt: skip


def unrelated(n: int) -> dict[str, tuple[str, str]]:
    """Other articles of the same site and month, some with the title's words in their address."""
    titles = ["Grain and wagons", "The rivalry over grain", "Caspian harvest", "Steppe rail"]
    return {
        f"https://review.example/2019/05/{'-'.join(t.lower().split())}": (
            f"2019051{5 + i}000000",
            UNRELATED.format(title=t),
        )
        for i, t in enumerate(titles[:n])
    }


def test_find_picks_the_original_among_candidates(
    db_path: Path, article: Path, archive_with: Any
) -> None:
    archive = archive_with(
        unrelated(4)
        | {
            RIGHT: ("20190520000000", ORIGINAL),
            "https://review.example/2019/05/water-rail-rivalry/print": (  # a broken snapshot
                "20190521000000",
                "",
            ),
            "https://review.example/style.css": ("20190515000000", "body {}"),
        }
    )
    code, summary, err = find(db_path, archive)
    assert code == 0
    chosen = archive.server.url(f"/web/20190520000000/{RIGHT}")
    assert summary["find"]["chosen"] == chosen
    candidates = summary["find"]["candidates"]
    assert candidates[0]["original"] == RIGHT and candidates[0]["matched"] == 12
    assert len(candidates) == 6  # the stylesheet is not an article
    assert urls(db_path) == EXPECTED
    assert f"Using {chosen}: 12 of 13 citations matched" in err
    db = open_db(db_path)
    assert {r["source"] for r in db.query("select source from resolutions")} == {f"find:{chosen}"}


def test_find_fetches_at_most_the_candidates_asked(
    db_path: Path, article: Path, archive_with: Any
) -> None:
    archive = archive_with(unrelated(4) | {RIGHT: ("20190520000000", ORIGINAL)})
    _, summary, _ = find(db_path, archive, "--candidates", "2")
    originals = [c["original"] for c in summary["find"]["candidates"]]
    assert len(originals) == 2 and originals[0] == RIGHT  # the title's words in its address
    assert sum(r.path.startswith("/web/") for r in archive.server.requests) == 2


def test_find_refuses_when_no_candidate_aligns(
    db_path: Path, article: Path, archive_with: Any
) -> None:
    code, summary, err = find(db_path, archive_with(unrelated(4)))
    assert code == 0 and summary["find"]["chosen"] is None
    assert "No original used, nothing changed: no candidate shares a link" in err
    assert urls(db_path) == [None] * 13
    assert open_db(db_path)["resolutions"].count == 0


def test_find_refuses_two_candidates_that_disagree(
    db_path: Path, article: Path, archive_with: Any
) -> None:
    other = ORIGINAL.replace("https://invest.example/kz", "https://invest.example/other")
    archive = archive_with(
        {RIGHT: ("20190520000000", ORIGINAL), RIGHT + "-2": ("20190521000000", other)}
    )
    code, summary, err = find(db_path, archive)
    assert code == 0 and summary["find"]["chosen"] is None
    assert "two candidates fill different URLs and score alike" in err
    assert open_db(db_path)["resolutions"].count == 0


def test_find_needs_a_site(db_path: Path, article: Path) -> None:
    code, _, err = run("resolve", "1", "--find", "--db", str(db_path))
    assert code == 2
    assert "its site is unknown: give the publisher's domain with --site" in err
