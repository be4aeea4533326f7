"""The archive's SQLite database: schema, reads and writes. The only package that holds SQL.

Callers import from here, not from the modules, so the store can be rearranged behind this face.
"""

from archiver.store.database import DEFAULT_DB, open_db
from archiver.store.evidence_rows import (
    capture_text,
    citations_to_annotate,
    claims_citing,
    evidence_labels,
    for_capture,
    save_evidence,
)
from archiver.store.exports import (
    EXPORT_COLUMNS,
    ExportArticle,
    ExportCapture,
    ExportCitation,
    ExportSource,
    export_articles,
    export_captures,
    export_citations,
    export_sources,
)
from archiver.store.frontier import frontier_hosts, frontier_urls, open_frontier, url_host
from archiver.store.lock import write_lock
from archiver.store.mementos import (
    MementoLookup,
    MementoQuestion,
    memento_questions,
    save_mementos,
)
from archiver.store.paths import archive_folder, stored_warc_path, warc_file
from archiver.store.reads import (
    article_status_counts,
    checks_per_day,
    dead_links,
    drifted_sources,
    rotten_citations,
    status_counts,
    stored_article_ids,
)
from archiver.store.resolutions import (
    Resolution,
    article_citations,
    find_article,
    save_resolutions,
)
from archiver.store.revisits import (
    capture_row,
    cited_urls,
    keep_archived_texts,
    last_capture,
    link_status_of,
    save_url_rows,
    texts_of,
)
from archiver.store.schema import migrations
from archiver.store.writes import SavedArticle, save_article

__all__ = [
    "DEFAULT_DB",
    "EXPORT_COLUMNS",
    "ExportArticle",
    "ExportCapture",
    "ExportCitation",
    "ExportSource",
    "MementoLookup",
    "MementoQuestion",
    "Resolution",
    "SavedArticle",
    "article_citations",
    "archive_folder",
    "article_status_counts",
    "capture_row",
    "cited_urls",
    "find_article",
    "capture_text",
    "checks_per_day",
    "citations_to_annotate",
    "claims_citing",
    "dead_links",
    "drifted_sources",
    "evidence_labels",
    "export_articles",
    "export_captures",
    "export_citations",
    "export_sources",
    "for_capture",
    "frontier_hosts",
    "frontier_urls",
    "keep_archived_texts",
    "last_capture",
    "link_status_of",
    "memento_questions",
    "migrations",
    "open_db",
    "open_frontier",
    "rotten_citations",
    "save_article",
    "save_resolutions",
    "save_evidence",
    "save_mementos",
    "save_url_rows",
    "status_counts",
    "stored_article_ids",
    "stored_warc_path",
    "texts_of",
    "url_host",
    "warc_file",
    "write_lock",
]
