"""Writing an ingested article: the article row, its citations and the links left out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from archiver.ingest.article import Article


@dataclass(frozen=True)
class SavedArticle:
    """What ``save_article`` did, for the run summary."""

    article_id: int
    created: bool
    citations: int
    unresolved: int
    urls: int  # distinct resolved URLs


def save_article(db: Database, article: Article) -> SavedArticle:
    """Insert or update an article and its citations in one transaction.

    An article is identified by its ``source_key``; a citation by (article, position). A rerun
    keeps the ids, so evidence and checks attached to them stay attached, and deletes citations
    the article no longer has. Its skipped links, which nothing refers to, are replaced.
    """
    articles, citations = db.table("articles"), db.table("citations")
    with db.atomic():
        existing = next(articles.rows_where("source_key = ?", [article.source_key]), None)
        if existing is None:
            article_id = int(articles.insert(article.as_row()).last_pk or 0)
        else:
            article_id = int(existing["id"])
            articles.update(article_id, article.as_row())
        known = {
            row["position"]: row["id"]
            for row in citations.rows_where("article_id = ?", [article_id], select="id, position")
        }
        rows = [{"article_id": article_id, **c.as_dict()} for c in article.citations]
        # In two batches (sqlite-utils reads the schema at every call): new positions, and the
        # kept ones by id, every given column rewritten.
        citations.insert_all(row for row in rows if row["position"] not in known)
        citations.upsert_all(
            ({"id": known[row["position"]], **row} for row in rows if row["position"] in known),
            pk="id",
        )
        db.execute(
            "delete from citations where article_id = ? and position > ?",
            [article_id, len(article.citations)],
        )
        db.execute("delete from skipped_links where article_id = ?", [article_id])
        db.table("skipped_links").insert_all(
            {"article_id": article_id, **link.as_dict()} for link in article.skipped
        )
    return SavedArticle(
        article_id=article_id,
        created=existing is None,
        citations=len(article.citations),
        unresolved=article.unresolved,
        urls=len({c.url for c in article.citations if c.url}),
    )
