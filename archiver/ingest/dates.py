"""Publication dates: bylines ("29th March 2018", "March 29, 2018") to ISO 8601, and where a web
page states its date.

Only a date the page states is kept (issue 10). Dates decide which web-archive snapshot is
nearest an article, and htmldate's free-text search read "the 2016 bombing" in a page's prose
as 2016-01-01: a guess is worse than no date.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lxml.html import HtmlElement

FORMATS = (
    "%Y-%m-%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%B %Y",
)
ORDINAL = re.compile(r"(?<=\d)(st|nd|rd|th)\b", re.I)
#: How trafilatura asks htmldate for a page's date: the original publication date, without the
#: free-text search ("extensive") that guesses one from any year in the prose.
STATED_DATE_PARAMS: dict[str, Any] = {"extensive_search": False, "original_date": True}


def parse_date(text: str) -> str | None:
    """ISO date (``YYYY-MM-DD``) for a written date, or None when it is not one we can read.

    Day-first wins for ambiguous numeric dates: bylines in the example corpus are British/EU.
    """
    cleaned = ORDINAL.sub("", text.strip().strip(".").replace(",", " "))
    cleaned = re.sub(r"\s+", " ", cleaned.replace(" of ", " ")).strip()
    for fmt in FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def date_source(tree: HtmlElement, url: str | None, date: str | None) -> str | None:
    """Where the page states ``date``, the one htmldate found with ``STATED_DATE_PARAMS``.

    Checked in htmldate's own order: ``url`` (a date in the address), ``metadata`` (meta tags,
    JSON-LD ``datePublished``), ``time-element`` (``<time datetime>``); ``page`` for the rest of
    what it reads without guessing (a date or byline element, a "Published on ..." line).

    Returns:
        The source word, or None when there is no date.
    """
    if date is None:
        return None
    # Imported here: markdown articles use this module without trafilatura's stack; these are
    # the first steps of htmldate.find_date, asked one at a time.
    from htmldate.core import examine_header
    from htmldate.extractors import extract_url_date, json_search
    from htmldate.utils import Extractor
    from htmldate.validators import get_max_date, get_min_date

    options = Extractor(False, get_max_date(None), get_min_date(None), True, "%Y-%m-%d")
    if extract_url_date(url, options) == date:
        return "url"
    if date in (examine_header(tree, options), json_search(tree, options)):
        return "metadata"
    if any(str(value).strip().startswith(date) for value in tree.xpath("//time/@datetime")):
        return "time-element"
    return "page"
