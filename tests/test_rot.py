"""The link-rot rules on their own: drift measure, soft 404s, challenge pages, link status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archiver.linkrot.verdicts import (
    CheckEvent,
    app_shell,
    challenge_reason,
    drift_for,
    error_page_reason,
    link_status,
    nearly_empty,
    page_signals,
    redirect_reason,
    same_template,
    similarity,
)
from archiver.run.check import parse_duration
from archiver.run.revisit import probe_url

PARAGRAPHS = [
    "Container traffic through the port rose by 12 per cent in 2020, the authority reported.",
    "The new terminal cost US$1.2 billion and was built in three years by a state contractor.",
    "Critics said the loans that paid for it would weigh on the budget for two decades.",
    "The minister replied that the railway link would pay for itself within ten years.",
]
CITED = "\n".join(PARAGRAPHS)
DAY0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


# -- drift ---------------------------------------------------------------------------------------


def test_reordered_paragraphs_are_the_same_text() -> None:
    assert similarity(CITED, "\n".join(reversed(PARAGRAPHS))) == 1.0


def test_text_added_to_the_page_keeps_what_was_cited() -> None:
    grown = CITED + "\nUpdate: the authority corrected a figure in another story.\nComments (3)"
    assert similarity(CITED, grown) == 1.0


def test_case_and_punctuation_do_not_count_as_change() -> None:
    assert similarity(CITED, CITED.upper().replace(",", " ;")) == 1.0


def test_one_paragraph_of_four_rewritten_is_changed() -> None:
    edited = "\n".join(PARAGRAPHS[:3] + ["The ministry declined to comment on the loans."])
    value = similarity(CITED, edited)
    assert value is not None and 0.3 <= value < 0.95
    assert drift_for(value) == "changed"


def test_another_text_is_replaced() -> None:
    assert drift_for(similarity(CITED, "Our shop sells hats, gloves and warm socks.")) == "replaced"


def test_no_cited_text_means_no_similarity() -> None:
    assert similarity(None, CITED) is None and drift_for(None) is None


@pytest.mark.parametrize(
    ("value", "drift"),
    [
        (1.0, "unchanged"),
        (0.95, "unchanged"),
        (0.94, "changed"),
        (0.3, "changed"),
        (0.29, "replaced"),
    ],
)
def test_drift_thresholds(value: float, drift: str) -> None:
    assert drift_for(value) == drift


# -- soft 404s and challenges --------------------------------------------------------------------


def test_a_template_that_echoes_the_path_is_one_template() -> None:
    page = "Docs portal\nYou asked for docs/ports-2020 which we moved. Browse our sections below."
    probe = "Docs portal\nYou asked for docs/9f3a1c which we moved. Browse our sections below."
    assert same_template(page, probe, drop={"docs", "ports", "2020", "9f3a1c"})


def test_a_real_page_is_not_the_sites_template() -> None:
    probe = "Docs portal\nYou asked for docs/9f3a1c which we moved. Browse our sections below."
    assert not same_template(CITED, probe)


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><head><title>Port Observatory</title>"
        b"<script type='module' src='/assets/index-4b1c.js'></script></head>"
        b"<body><noscript>You need to enable JavaScript to run this app.</noscript>"
        b"<div id='root'></div></body></html>",
        b"<html><head><title>Ports</title></head><body><app-root>Loading...</app-root>"
        b"<script src='runtime.js'></script><script src='main.js'></script></body></html>",
        # the bundle inlined, running past the bytes read
        b"<html><head><title>Ports</title><script>" + b"var a = 'word word word';" * 3000,
    ],
    ids=["react", "angular", "inline-bundle-cut-off"],
)
def test_a_javascript_app_shell_is_an_app_shell(body: bytes) -> None:
    assert app_shell(page_signals(body[:64_000]))


@pytest.mark.parametrize(
    "body",
    [
        # a server's catch-all page: text, no scripts
        b"<html><head><title>Docs portal</title></head><body><p>You asked for a page that has"
        b" moved. Browse the sections below.</p></body></html>",
        # an article that also runs scripts
        b"<html><head><title>Ports</title><script src='/analytics.js'></script></head><body>"
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 3).encode()
        + b"</body></html>",
    ],
    ids=["no-scripts", "article-with-scripts"],
)
def test_pages_with_text_of_their_own_are_not_app_shells(body: bytes) -> None:
    assert not app_shell(page_signals(body))


def test_nearly_empty_texts() -> None:
    assert nearly_empty(None) and nearly_empty("") and nearly_empty("Loading...")
    assert nearly_empty("You need to enable JavaScript to run this app.")
    assert not nearly_empty(PARAGRAPHS[0])


@pytest.mark.parametrize(
    "title",
    [
        "Page not found",
        "404 Not Found",
        "Error 404 | Example News",
        "Not Found",
        "Sorry, we can't find that page",
        "The page you were looking for doesn't exist",
        "Seite nicht gefunden",
    ],
)
def test_error_page_titles_are_soft_404s(title: str) -> None:
    signals = page_signals(f"<html><head><title>{title}</title></head><body>x</body>".encode())
    assert error_page_reason(signals) is not None


@pytest.mark.parametrize(
    "title",
    ["Why 404 pages matter", "Ports of Central Asia", "Lost and found: a history of luggage"],
)
def test_ordinary_titles_are_not_error_pages(title: str) -> None:
    signals = page_signals(f"<title>{title}</title><h1>{title}</h1>".encode())
    assert error_page_reason(signals) is None


def test_error_heading_with_a_site_title_is_a_soft_404() -> None:
    signals = page_signals(b"<title>Example News</title><h1>Oops! <span>Page not found</span></h1>")
    assert error_page_reason(signals) == "soft 404: error-page heading 'Oops! Page not found'"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"<title>Just a moment...</title><body>Checking</body>", {}),
        (b"<title>Attention Required! | Cloudflare</title>", {}),
        (b"<title>News</title><script src='/cdn-cgi/challenge-platform/h/b'></script>", {}),
        (b"<title>News</title>", {"cf-mitigated": "challenge"}),
        (b"<title>Verify</title><form><div class='g-recaptcha'></div></form>", {}),
    ],
)
def test_bot_challenges_are_blocked(body: bytes, headers: dict[str, str]) -> None:
    reason = challenge_reason(page_signals(body), headers)
    assert reason is not None and reason.startswith("blocked: ")


def test_captcha_in_a_comment_form_of_an_article_is_not_a_challenge() -> None:
    article = " ".join(PARAGRAPHS * 20)
    body = f"<title>Ports</title><p>{article}</p><form><div class='g-recaptcha'></div></form>"
    assert challenge_reason(page_signals(body.encode()), {}) is None


@pytest.mark.parametrize(
    ("final", "outcome"),
    [
        ("https://example.org/", "soft_404"),
        ("https://example.org/index.html", "soft_404"),
        ("https://example.org/en/", "soft_404"),
        ("https://example.org/404", "soft_404"),
        ("https://example.org/errors/not-found.html", "soft_404"),
        ("https://example.org/search?error=404", "soft_404"),
        ("https://example.org/login?next=/news/ports", "blocked"),
        ("https://example.org/news/ports/", None),
        ("https://www.example.org/news/ports", None),
        ("https://example.org/?page=2", None),
    ],
)
def test_redirect_targets(final: str, outcome: str | None) -> None:
    found = redirect_reason("http://example.org/news/ports", final)
    assert (found[0] if found else None) == outcome


def test_a_cited_home_page_redirected_to_another_home_page_is_fine() -> None:
    assert redirect_reason("http://example.org/", "https://example.org/en/") is None


def test_probe_path_is_a_random_sibling_with_the_same_extension() -> None:
    assert probe_url("http://h.test:8080/a/b/page.html?x=1", "0123456789abcdef") == (
        "http://h.test:8080/a/b/0123456789abcdef.html"
    )


# -- link status ---------------------------------------------------------------------------------


def events(*items: tuple[float, str]) -> list[CheckEvent]:
    return [CheckEvent(day(n), outcome) for n, outcome in items]


def test_one_failed_check_is_suspect_not_dead() -> None:
    assert link_status(events((0, "not_found")), now=day(10)) == "suspect"


def test_three_failures_over_three_days_are_dead() -> None:
    history = events((0, "ok"), (1, "not_found"), (2.5, "timeout"), (4, "unreachable"))
    assert link_status(history, now=day(4)) == "dead"


def test_three_failures_within_a_day_are_suspect() -> None:
    history = events((0, "not_found"), (0.1, "not_found"), (0.9, "not_found"))
    assert link_status(history, now=day(30)) == "suspect"


def test_two_failures_over_a_week_are_suspect() -> None:
    assert link_status(events((0, "gone"), (7, "gone")), now=day(7)) == "suspect"


def test_a_recovered_link_is_alive() -> None:
    history = events((0, "not_found"), (1, "not_found"), (3, "not_found"), (4, "ok"))
    assert link_status(history, now=day(4)) == "alive"


def test_the_dead_rule_is_configurable() -> None:
    history = events((0, "not_found"), (1, "not_found"))
    assert link_status(history, now=day(1), min_failures=2, min_days=1) == "dead"


def test_blocked_checks_neither_revive_nor_count() -> None:
    history = events((0, "not_found"), (1, "blocked"), (2, "not_found"), (3, "not_found"))
    assert link_status(history, now=day(3)) == "dead"
    assert link_status(history[:3], now=day(3)) == "suspect"


def test_a_link_kept_out_is_blocked() -> None:
    assert link_status(events((0, "not_found"), (1, "blocked_by_robots")), now=day(1)) == "blocked"


def test_an_alive_page_that_drifted_is_drifted() -> None:
    history = [CheckEvent(day(0), "ok", "unchanged"), CheckEvent(day(1), "ok", "changed")]
    assert link_status(history, now=day(1)) == "drifted"


def test_of_two_checks_stamped_in_one_second_the_later_row_counts() -> None:
    """Issue 10: a check kept out, then one that got through, both at 13:37:22, given newest
    first as the database reads them."""
    second = datetime(2026, 12, 1, 13, 37, 22, tzinfo=UTC)
    history = [CheckEvent(second, "ok", id=2), CheckEvent(second, "blocked_private_address", id=1)]
    assert link_status(history, now=second) == "alive"


def test_status_as_of_a_date_ignores_later_checks() -> None:
    history = events((0, "ok"), (5, "not_found"))
    assert link_status(history, now=day(1)) == "alive"
    assert link_status([], now=day(1)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1.5d", timedelta(hours=36)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d7", "7 days", "-1d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
