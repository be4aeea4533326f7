"""archive end to end against real loopback servers: captures, WARC, text, reruns, refresh."""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_warc import warcio_check
from webserver import Handler, WebServer, text

from archiver.capture.warc import read_records
from archiver.cli import cli
from archiver.ingest.article import load_article
from archiver.net.fetch import FetchConfig
from archiver.rows import CaptureRow
from archiver.run.archive import RunStats, UrlResult, archive_urls, frontier
from archiver.run.workers import PROCESS_EXTRACTION_AFTER
from archiver.store import open_db, save_article, save_url_rows, warc_file

ARTICLE_PAGE = (
    "<html><head><title>A page about ports</title></head><body><article>"
    "<h1>Ports</h1><p>Container traffic through the port rose by 12 per cent in 2020, the "
    "authority reported. The new terminal cost US$1.2 billion and was built in three years.</p>"
    "</article></body></html>"
)


#: Bounds a wait for an event, so a hang fails the test; no assertion depends on it.
FAILSAFE = 60.0


def _stable(h: Handler) -> None:
    """Same body every time, no validators: a refresh can only compare payload digests."""
    h.respond(200, ARTICLE_PAGE.encode())


@pytest.fixture
def site(web_server: WebServer) -> WebServer:
    web_server.routes["/article-page"] = _stable
    return web_server


def write_article(tmp_path: Path, server: WebServer, paths: list[str]) -> Path:
    links = " ".join(
        f"Claim number {i} is backed [here]({server.url(p)})." for i, p in enumerate(paths)
    )
    article = tmp_path / "article.md"
    article.write_text(f"# Test article\n\n{links}\n", encoding="utf-8")
    return article


def run_archive(article: Path, db_path: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        cli,
        [
            "archive",
            str(article),
            "--db",
            str(db_path),
            "--warc-dir",
            str(db_path.parent / "warc"),
            "--allow-private-addresses",
            "--delay",
            "0",
            "--timeout",
            "5",
            "--json",
            "--silent",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db" / "citations.db"


def test_each_cited_page_is_captured_with_its_outcome(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(
        tmp_path,
        site,
        [
            "/ok",
            "/status/404",
            "/status/410",
            "/status/403",
            "/redirect/301/2",
            "/pdf",
            "/png",
            "/empty",
        ],
    )
    summary = run_archive(article, db_path)
    assert summary["fetch"]["outcomes"] == {
        "blocked": 1,
        "gone": 1,
        "not_found": 1,
        "ok": 4,
        "redirected": 1,
    }
    db = open_db(db_path)
    outcomes = {
        row["url"].split(":", 2)[2].split("/", 1)[1]: row["outcome"] for row in db["captures"].rows
    }
    assert outcomes["ok"] == "ok" and outcomes["status/404"] == "not_found"
    assert db["sources"].get(site.url("/ok"))["text"] == "Hello, archive."
    assert db["sources"].get(site.url("/ok"))["title"] == "OK page"


def test_same_url_cited_twice_is_fetched_once(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(
        tmp_path, site, ["/article-page?utm_source=x", "/article-page#top", "/ok"]
    )
    summary = run_archive(article, db_path)
    assert summary["articles"][0]["citations"] == 3 and summary["fetch"]["urls"] == 2
    assert site.paths().count("/article-page") == 1
    assert open_db(db_path)["sources"].count == 2


def test_capture_row_points_at_its_warc_response(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, ["/ok", "/redirect/302/1"])
    run_archive(article, db_path)
    db = open_db(db_path)
    for path in (db_path.parent / "warc").glob("*.warc.gz"):
        checked = warcio_check(path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    for capture in db["captures"].rows:
        scan = read_records(warc_file(db, capture["warc_path"]))
        assert not scan.torn
        record = next(r for r in scan.records if r.offset == capture["warc_offset"])
        assert record.record_type == "response"
        assert record.target_uri == capture["final_url"]
        assert record.record_id == capture["warc_record_id"]


def test_rerun_skips_captured_and_retries_failed(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, ["/ok", "/status/404"])
    run_archive(article, db_path)
    second = run_archive(article, db_path)
    assert second["fetch"]["outcomes"] == {"not_found": 1}
    db = open_db(db_path)
    assert db.execute("select count(*) from captures where outcome = 'ok'").fetchone()[0] == 1
    assert (
        db.execute("select count(*) from captures where outcome = 'not_found'").fetchone()[0] == 2
    )


def test_refresh_with_304_records_a_check_not_a_copy(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, ["/ok"])
    run_archive(article, db_path)
    summary = run_archive(article, db_path, "--refresh")
    assert summary["fetch"]["unchanged"] == 1
    assert site.requests[-1].headers.get("If-None-Match") == '"v1"'
    db = open_db(db_path)
    assert db["captures"].count == 1
    check = next(db["checks"].rows)
    assert (check["status_code"], check["drift"], check["similarity"]) == (304, "unchanged", 1.0)


def test_refresh_with_same_payload_writes_a_revisit_record(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, ["/article-page"])
    run_archive(article, db_path)
    run_archive(article, db_path, "--refresh")
    db = open_db(db_path)
    assert db["captures"].count == 1 and db["checks"].count == 1
    records = [
        r
        for path in sorted((db_path.parent / "warc").glob("*.warc.gz"))
        for r in read_records(path).records
    ]
    assert [r.record_type for r in records if r.record_type != "warcinfo"] == [
        "response",
        "request",
        "revisit",
        "request",
    ]


def test_changed_payload_on_refresh_is_a_new_capture(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, ["/article-page"])
    run_archive(article, db_path)
    site.routes["/article-page"] = text(
        ARTICLE_PAGE.replace("three", "four"), content_type="text/html"
    )
    run_archive(article, db_path, "--refresh")
    db = open_db(db_path)
    assert db["captures"].count == 2
    assert "four years" in db["sources"].get(site.url("/article-page"))["text"]
    source = db["sources"].get(site.url("/article-page"))
    assert source["first_captured"] <= source["last_captured"]


def test_refresh_keeps_the_text_of_every_version(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    """sources.text holds the newest version; what was archived before stays a row, and the
    evidence of each version is found against its own text."""
    article = tmp_path / "claim.md"
    article.write_text(
        f"# Ports\n\nThe new terminal was built in three years [report]({site.url('/article-page')}).\n",
        encoding="utf-8",
    )
    run_archive(article, db_path)
    site.routes["/article-page"] = text(
        ARTICLE_PAGE.replace("three", "four"), content_type="text/html"
    )
    run_archive(article, db_path, "--refresh")
    db = open_db(db_path)
    versions = [
        ("three years" in row["text"], "four years" in row["text"])
        for row in db.query("select text from capture_texts order by capture_id")
    ]
    assert versions == [(True, False), (False, True)]
    labels = [
        (row["capture_id"], row["label"])
        for row in db.query("select capture_id, label from evidence order by capture_id")
    ]
    assert labels == [(1, "supported"), (2, "partial")]


def test_private_addresses_refused_by_default(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, ["/ok"])
    result = CliRunner().invoke(
        cli,
        [
            "archive",
            str(article),
            "--db",
            str(db_path),
            "--json",
            "--silent",
            "--warc-dir",
            str(tmp_path / "warc"),
        ],
    )
    assert json.loads(result.stdout)["fetch"]["outcomes"] == {"blocked_private_address": 1}
    assert site.requests == []


def test_politeness_one_request_per_host_with_delay(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, [f"/ok?n={i}" for i in range(6)])
    run_archive(article, db_path, "--delay", "0.2", "--concurrency", "8")
    page_requests = [r for r in site.requests if r.path.startswith("/ok")]
    assert len(page_requests) == 6
    assert site.max_concurrent() == 1
    # Start to start: the server reached a request's start before the fetcher had its answer,
    # and the next may start only ``delay`` after that. (End to start is not bounded: the
    # server stamps a request's end after its last byte left, which a busy machine delays.)
    assert all(b.started - a.started >= 0.2 for a, b in pairwise(page_requests))


def test_progress_is_reported_per_url_before_its_chunk_is_saved(
    tmp_path: Path, web_server: WebServer, db_path: Path
) -> None:
    """Three URLs of one host are one chunk, saved together; the bar moves as each is fetched:
    the server holds the second page until the first was reported (it once stayed at 0/3)."""
    reported = threading.Event()
    fetched: list[str] = []
    saved: list[int] = []  # how many had been reported at each save
    when_held: list[tuple[bool, int, int]] = []

    def second_held(h: Handler) -> None:
        if h.path == "/page/1":
            when_held.append((reported.wait(FAILSAFE), len(fetched), len(saved)))
        _stable(h)

    web_server.routes["/page/"] = second_held
    article = write_article(tmp_path, web_server, [f"/page/{i}" for i in range(3)])
    db = open_db(db_path)
    jobs = frontier(db, article_ids=[save_article(db, load_article(str(article))).article_id])

    def on_fetched(url: str) -> None:
        fetched.append(url)
        reported.set()

    def on_result(result: UrlResult, stats: RunStats) -> None:
        saved.append(len(fetched))

    config = FetchConfig(allow_private_addresses=True, delay=0, timeout=5)
    archive_urls(
        db,
        jobs,
        config=config,
        warc_dir=tmp_path / "warc",
        on_fetched=on_fetched,
        on_result=on_result,
    )
    assert when_held == [(True, 1, 0)]
    assert fetched == [job.url for job in jobs]
    assert saved == [3, 3, 3]


def test_many_pages_extracted_in_worker_processes(tmp_path: Path, db_path: Path) -> None:
    with (
        WebServer("127.0.0.3", {"/page/": _stable}) as one,
        WebServer("127.0.0.4", {"/page/": _stable}) as two,
    ):
        paths = [(server, f"/page/{i}") for i in range(25) for server in (one, two)]
        links = " ".join(f"Claim {i} [x]({s.url(p)})." for i, (s, p) in enumerate(paths))
        article = tmp_path / "many.md"
        article.write_text(links, encoding="utf-8")
        summary = run_archive(article, db_path)
    assert summary["fetch"]["outcomes"] == {"ok": 50}
    texts = {row["text"] for row in open_db(db_path)["sources"].rows}
    assert len(texts) == 1 and "US$1.2 billion" in texts.pop()


def test_evidence_is_found_where_the_page_is_extracted(tmp_path: Path, db_path: Path) -> None:
    """Many pages: worker processes extract them and rank the claims citing each, so the
    coordinator stores evidence without reading the texts back (no ``annotate`` here)."""
    with WebServer("127.0.0.3", {"/page/": _stable}) as server:
        sentences = [
            f"The new terminal cost US$1.2 billion [source]({server.url(f'/page/{i}')})."
            if i % 2
            else f"The new terminal cost US$1.5 billion and was built in three years [report]({server.url(f'/page/{i}')})."
            for i in range(PROCESS_EXTRACTION_AFTER + 2)
        ]
        article = tmp_path / "claims.md"
        article.write_text("# Ports\n\n" + " ".join(sentences), encoding="utf-8")
        db = open_db(db_path)
        saved = save_article(db, load_article(str(article)))
        jobs = frontier(db, article_ids=[saved.article_id])
        config = FetchConfig(allow_private_addresses=True, delay=0, timeout=5)
        archive_urls(db, jobs, config=config, warc_dir=tmp_path / "warc")
    rows = list(
        db.query(
            "select c.url, e.label, e.missing, e.capture_id, k.id as capture from citations c "
            "join evidence e on e.citation_id = c.id join captures k on k.url = c.url"
        )
    )
    assert len(rows) == len(sentences)
    assert all(row["capture_id"] == row["capture"] for row in rows)
    labels = sorted((row["label"], row["missing"]) for row in rows)
    half = len(sentences) // 2
    assert labels == [("partial", "US$1.5 billion")] * half + [("supported", None)] * half


def test_any_executor_can_run_the_hosts(tmp_path: Path, site: WebServer, db_path: Path) -> None:
    """Processes instead of threads (as a Dask cluster would be): jobs and results pickle, each
    worker writes and closes its own WARC file, the coordinator alone writes SQLite."""
    article = write_article(tmp_path, site, ["/ok", "/article-page", "/status/404"])
    db = open_db(db_path)
    saved = save_article(db, load_article(str(article)))
    config = FetchConfig(allow_private_addresses=True, delay=0, timeout=5)
    warc_dir = tmp_path / "warc"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as executor:
        stats = archive_urls(
            db,
            frontier(db, article_ids=[saved.article_id]),
            config=config,
            warc_dir=warc_dir,
            executor=executor,
        )
    assert dict(stats.outcomes) == {"ok": 2, "not_found": 1}
    assert not list(warc_dir.glob("*.open"))
    for capture in db["captures"].rows:
        assert Path(capture["warc_path"]).exists()


def test_failed_refresh_keeps_the_archived_text(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    article = write_article(tmp_path, site, ["/article-page"])
    run_archive(article, db_path)
    site.routes["/article-page"] = text("gone for now", status=500)
    summary = run_archive(article, db_path, "--refresh")
    assert summary["fetch"]["outcomes"] == {"server_error": 1}
    source = open_db(db_path)["sources"].get(site.url("/article-page"))
    assert source["latest_outcome"] == "server_error"
    assert "US$1.2 billion" in source["text"]


def test_a_page_whose_text_could_not_be_extracted_is_kept_and_fetched_again(
    tmp_path: Path, site: WebServer, db_path: Path
) -> None:
    """An extraction that failed (its worker process died twice) leaves the capture, says why,
    and the next run fetches the page again for its text."""
    article = write_article(tmp_path, site, ["/article-page"])
    db = open_db(db_path)
    saved = save_article(db, load_article(str(article)))
    [job] = frontier(db, article_ids=[saved.article_id])
    failed: Future[Any] = Future()
    failed.set_exception(BrokenProcessPool("A process in the process pool was terminated"))
    capture = CaptureRow(job.url, "2026-11-28T00:00:00Z", "ok")
    save_url_rows(db, [UrlResult(job.url, "ok", capture=capture, extraction=failed).finish()])
    [error] = db.execute("select error from captures").fetchone()
    assert error == "text not extracted: A process in the process pool was terminated"
    assert db.execute("select text from sources").fetchone()[0] is None
    assert [again.url for again in frontier(db, article_ids=[saved.article_id])] == [job.url]

    assert run_archive(article, db_path)["fetch"]["outcomes"] == {"ok": 1}
    assert "US$1.2 billion" in db.execute("select text from sources").fetchone()[0]
    assert frontier(db, article_ids=[saved.article_id]) == []
