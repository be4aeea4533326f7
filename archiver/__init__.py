"""citation-archiver: keep an article's citations alive and checkable.

The library face: the calls the ``archiver`` command makes, one per stage of a run. Names are
imported when first used, so that a process that needs one stage (an extraction worker) does
not load them all.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from archiver.version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from archiver.ingest.article import load_article
    from archiver.net.fetch import FetchConfig
    from archiver.publish.report import write_report
    from archiver.recover.resolve import align, from_map
    from archiver.run.annotate import annotate, label_counts
    from archiver.run.archive import archive_urls, frontier
    from archiver.run.check import check_frontier, check_summary, check_urls
    from archiver.run.ingest import ingest_sources
    from archiver.run.revisit import RevisitConfig
    from archiver.store import open_db as open_archive

#: Public name -> (module, name there).
_EXPORTS = {
    "FetchConfig": ("archiver.net.fetch", "FetchConfig"),
    "RevisitConfig": ("archiver.run.revisit", "RevisitConfig"),
    "align": ("archiver.recover.resolve", "align"),
    "annotate": ("archiver.run.annotate", "annotate"),
    "archive_urls": ("archiver.run.archive", "archive_urls"),
    "check_frontier": ("archiver.run.check", "check_frontier"),
    "check_summary": ("archiver.run.check", "check_summary"),
    "check_urls": ("archiver.run.check", "check_urls"),
    "from_map": ("archiver.recover.resolve", "from_map"),
    "frontier": ("archiver.run.archive", "frontier"),
    "ingest_sources": ("archiver.run.ingest", "ingest_sources"),
    "label_counts": ("archiver.run.annotate", "label_counts"),
    "load_article": ("archiver.ingest.article", "load_article"),
    "open_archive": ("archiver.store", "open_db"),
    "write_report": ("archiver.publish.report", "write_report"),
}

__all__ = [
    "FetchConfig",
    "RevisitConfig",
    "__version__",
    "align",
    "annotate",
    "archive_urls",
    "check_frontier",
    "check_summary",
    "check_urls",
    "from_map",
    "frontier",
    "ingest_sources",
    "label_counts",
    "load_article",
    "open_archive",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'archiver' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value
