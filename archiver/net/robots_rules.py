"""The rules of one site's robots.txt, as the fetcher obeys them (``net.robots`` fetches them)."""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

MAX_CRAWL_DELAY = 120.0  # a Crawl-delay of a day would stall a host's worker for a day

#: (scheme, host, port) — RFC 9309 scopes a robots.txt to exactly that.
SiteKey = tuple[str, str, int]


@dataclass
class RobotsRules:
    """The rules for one site, or the blanket answer when there was no usable file."""

    url: str  # the robots.txt URL
    outcome: str  # outcome word of the robots.txt fetch
    status_code: int | None
    fetched_at: float  # time.monotonic()
    parser: Protego | None = None
    allow_all: bool = True  # used when parser is None
    error: str | None = None

    def allowed(self, url: str, agent: str) -> bool:
        """May ``agent`` fetch ``url``?"""
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        """The Crawl-delay for ``agent`` in seconds (capped at ``MAX_CRAWL_DELAY``), if any."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        if delay is None:
            return None
        return min(float(delay), MAX_CRAWL_DELAY)
