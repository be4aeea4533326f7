"""robots.txt: fetched once per site, parsed by protego, obeyed by ``fetch()``.

Fetched with the same guarded session, throttle, timeouts and redirect handling as any page (a
robots.txt is untrusted input too), capped at 512 KiB. What a failed fetch means follows
RFC 9309 section 2.3.1: a 4xx says "no robots.txt" (allow everything), while a 5xx or an
unreachable server says "cannot tell yet" (disallow everything, and ask again after a while).
A 429 is treated like a 5xx, as Google does: a site that asks for fewer requests should not get
more of them because the robots.txt request itself was refused.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from protego import Protego

from archiver.net.fetch import FetchConfig, fetch, make_session, user_agent
from archiver.net.politeness import DEFAULT_THROTTLE, HostThrottle
from archiver.net.result import CAPTURED
from archiver.net.robots_rules import RobotsRules, SiteKey

LOGGER = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 2.5: parse at least 500 KiB
ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 2.3.1.2


def site_key(url: str) -> SiteKey:
    """The (scheme, host, port) a robots.txt applies to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def robots_url(url: str) -> str:
    """``https://example.org:8443/a/b?c`` -> ``https://example.org:8443/robots.txt``."""
    scheme, host, port = site_key(url)
    netloc = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}/robots.txt"


def _rules_from_result(
    url: str, outcome: str, status: int | None, text: str | None, error: str | None
) -> RobotsRules:
    now = time.monotonic()
    if text is not None:
        try:
            return RobotsRules(url, outcome, status, now, parser=Protego.parse(text))
        except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the archiving
            LOGGER.warning("robots.txt %s could not be parsed (%s); allowing all", url, exc)
            return RobotsRules(url, outcome, status, now, allow_all=True, error=str(exc))
    unavailable = (
        status is not None and 400 <= status < 500 and status != 429
    ) or outcome == "redirect_loop"  # RFC 9309: too many redirects = unavailable
    if not unavailable:
        LOGGER.warning("robots.txt %s: %s; disallowing the site for now", url, error or outcome)
    return RobotsRules(url, outcome, status, now, allow_all=unavailable, error=error)


class RobotsCache:
    """robots.txt rules per (scheme, host, port), shared by all workers of a process.

    Args:
        config: fetch options; timeouts and the guard settings apply to robots.txt too.
        throttle: per-host politeness; give the one ``fetch()`` uses (``fetch`` takes this
            one by default when given the cache).
        ttl: seconds a fetched robots.txt stays valid (RFC 9309 asks for at most 24 hours).
        failure_ttl: seconds before a failed (5xx, unreachable) robots.txt is asked again.
        session_factory: makes the session used when ``allowed`` is not given one.
    """

    def __init__(
        self,
        config: FetchConfig,
        *,
        throttle: HostThrottle | None = None,
        ttl: float = 24 * 3600,
        failure_ttl: float = 600,
        session_factory: Callable[[FetchConfig], requests.Session] = make_session,
    ) -> None:
        self.config = dataclasses.replace(
            config,
            max_bytes=min(config.max_bytes, ROBOTS_MAX_BYTES),
            max_redirects=min(config.max_redirects, ROBOTS_MAX_REDIRECTS),
            max_retries=0,  # a failure is cached for failure_ttl instead
            ignore_robots=True,
        )
        self.throttle = throttle or DEFAULT_THROTTLE
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self._session_factory = session_factory
        self._rules: dict[SiteKey, RobotsRules] = {}
        self._locks: dict[SiteKey, threading.Lock] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._session_factory(self.config)
        return session

    def _fresh(self, rules: RobotsRules | None) -> bool:
        if rules is None:
            return False
        ttl = self.ttl if rules.parser is not None or rules.allow_all else self.failure_ttl
        return time.monotonic() - rules.fetched_at < ttl

    def rules(self, url: str, *, session: requests.Session | None = None) -> RobotsRules:
        """The rules for ``url``'s site, fetching robots.txt if not cached (once per site)."""
        key = site_key(url)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one fetch per site even when several workers ask at once
            with self._lock:
                cached = self._rules.get(key)
            if self._fresh(cached):
                assert cached is not None
                return cached
            rules = self._fetch(robots_url(url), session or self._session())
            with self._lock:
                self._rules[key] = rules
            return rules

    def _fetch(self, url: str, session: requests.Session) -> RobotsRules:
        result = fetch(
            url, session=session, config=self.config, throttle=self.throttle, keep_prefix=True
        )
        try:
            text = None
            status = result.status_code
            if result.outcome in CAPTURED and result.body is not None:
                text = result.body.read().decode("utf-8", errors="replace").lstrip("\ufeff")
            LOGGER.debug("robots.txt %s: %s %s", url, result.outcome, status)
            return _rules_from_result(url, result.outcome, status, text, result.error)
        finally:
            result.close()

    def allowed(
        self, url: str, user_agent: str | None = None, *, session: requests.Session | None = None
    ) -> bool:
        """May ``user_agent`` (ours by default) fetch ``url``? robots.txt itself always may."""
        if urlsplit(url).path == "/robots.txt":
            return True
        return self.rules(url, session=session).allowed(url, user_agent or self.user_agent)

    def crawl_delay(
        self, url: str, user_agent: str | None = None, *, session: requests.Session | None = None
    ) -> float | None:
        """The site's Crawl-delay for ``user_agent`` in seconds, or None when it sets none."""
        return self.rules(url, session=session).crawl_delay(user_agent or self.user_agent)

    @property
    def user_agent(self) -> str:
        return user_agent(self.config)

    def clear(self) -> None:
        """Forget every cached robots.txt (a long-running check asks again)."""
        with self._lock:
            self._rules.clear()
