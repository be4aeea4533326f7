"""Dates as people write them in bylines ("29th March 2018", "March 29, 2018") to ISO 8601."""

from __future__ import annotations

import re
from datetime import datetime

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
