"""Link health at a glance: counts from the check history, and ``archiver report``'s HTML page.

The page is one self-contained HTML file with inline SVG charts drawn here (no JavaScript, no
fonts or scripts from the network), so it opens from a file, a mail attachment or a CI artifact
years later: link status per article, checks over time by outcome, and the lists an editor acts
on (dead links with the claim they supported, drifted sources; for each, the local capture and the
web-archive snapshot nearest the article's date, to read instead). The chart and the lists show
the worst first and stop at a readable length, saying how many more there are and where to see
them all (Datasette's queries): the page stays small for an archive of a million citations.
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archiver.linkrot.verdicts import CheckEvent, link_status
from archiver.store import (
    article_status_counts,
    checks_per_day,
    drifted_sources,
    rotten_citations,
    status_counts,
)

LOGGER = logging.getLogger(__name__)

__all__ = [
    "ReportData",
    "render_html",
    "report_data",
    "write_report",
]

#: Link statuses in the order charts stack them, with their colours (colour-blind safe, Okabe-Ito).
STATUS_COLOURS = {
    "alive": "#009E73",
    "drifted": "#E69F00",
    "suspect": "#F0E442",
    "blocked": "#56B4E9",
    "dead": "#D55E00",
    "unchecked": "#BBBBBB",
}
#: Check outcomes grouped for the timeline.
OUTCOME_GROUPS = {
    "alive": "#009E73",
    "drifted": "#E69F00",
    "blocked": "#56B4E9",
    "soft 404": "#CC79A7",
    "failing": "#D55E00",
}
MAX_DAYS = 90  # more distinct days than this: the timeline counts by ISO week
#: Articles in the status chart, those with the most dead or suspect links first.
MAX_ARTICLES = 50
#: Rows of each list (dead and suspect citations; drifted sources): an archive of a million
#: citations may have a hundred thousand, which no one reads in a page; the rest are in Datasette.
MAX_ROWS = 500
#: The moment of a lone check that ``outcome_group`` asks ``link_status`` about.
_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def outcome_group(outcome: str, drift: str | None) -> str:
    """The timeline's group of one check: the link status it gives alone, failures split."""
    status = link_status([CheckEvent(_ANY_TIME, outcome, drift)], now=_ANY_TIME)
    if status in ("alive", "drifted", "blocked"):
        return status
    return "soft 404" if outcome == "soft_404" else "failing"  # one failure: suspect


@dataclass
class ReportData:
    """What the report shows, read from the database once; the lists cut at ``MAX_ARTICLES`` and
    ``MAX_ROWS``, with how many there are in all."""

    generated_at: str
    totals: dict[str, int]
    articles: list[tuple[int, str, dict[str, int]]] = field(default_factory=list)
    timeline: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    rotten: list[dict[str, Any]] = field(default_factory=list)  # dead and suspect citations
    drifted: list[dict[str, Any]] = field(default_factory=list)
    articles_total: int = 0  # articles that cite a link
    rotten_total: int = 0  # citations of dead or suspect links
    drifted_total: int = 0  # drifted sources


def report_data(
    db: Database,
    *,
    now: datetime | None = None,
    max_articles: int = MAX_ARTICLES,
    max_rows: int = MAX_ROWS,
) -> ReportData:
    """Gather the report's numbers, and its lists cut at ``max_articles`` and ``max_rows``."""
    articles, articles_total = article_status_counts(db, limit=max_articles)
    rotten, rotten_total = rotten_citations(db, limit=max_rows)
    drifted, drifted_total = drifted_sources(db, limit=max_rows)
    data = ReportData(
        generated_at=(now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        totals=status_counts(db),
        articles=articles,
        rotten=rotten,
        drifted=drifted,
        articles_total=articles_total,
        rotten_total=rotten_total,
        drifted_total=drifted_total,
    )
    days: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in checks_per_day(db):
        days[row["day"]][outcome_group(row["outcome"], row["drift"])] += row["n"]
    timeline = sorted(days.items())
    if len(timeline) > MAX_DAYS:
        weeks: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for day, counts in timeline:
            year, week, _ = datetime.fromisoformat(day).isocalendar()
            for group, n in counts.items():
                weeks[f"{year}-W{week:02d}"][group] += n
        timeline = sorted(weeks.items())
    data.timeline = [(label, dict(counts)) for label, counts in timeline]
    return data


# -- drawing --------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _legend(colours: dict[str, str], shown: Iterable[str]) -> str:
    keep = set(shown)
    items = "".join(
        f'<li><span class="swatch" style="background:{colour}"></span>{_e(name)}</li>'
        for name, colour in colours.items()
        if name in keep
    )
    return f'<ul class="legend">{items}</ul>'


def status_chart(articles: list[tuple[int, str, dict[str, int]]]) -> str:
    """Horizontal stacked bars: one per article, link statuses of its cited URLs."""
    if not articles:
        return '<p class="empty">No cited links yet.</p>'
    label_w, bar_w, row_h = 260, 560, 28
    height = row_h * len(articles) + 10
    parts = [
        f'<svg class="chart" id="status-chart" role="img" width="{label_w + bar_w + 60}" '
        f'height="{height}" viewBox="0 0 {label_w + bar_w + 60} {height}">'
        "<title>Link status per article</title>"
    ]
    for index, (article_id, title, counts) in enumerate(articles):
        y = 5 + index * row_h
        total = sum(counts.values()) or 1
        short = title if len(title) <= 38 else title[:36] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="label">'
            f"{_e(article_id)}. {_e(short)}</text>"
        )
        x = float(label_w)
        for status, colour in STATUS_COLOURS.items():
            n = counts.get(status, 0)
            if not n:
                continue
            width = bar_w * n / total
            parts.append(
                f'<rect class="bar status-{status}" data-status="{status}" data-count="{n}" '
                f'x="{x:.1f}" y="{y}" width="{width:.1f}" height="{row_h - 6}" fill="{colour}">'
                f"<title>{_e(title)}: {n} {status}</title></rect>"
            )
            if width >= 22:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{y + 16}" text-anchor="middle" '
                    f'class="count">{n}</text>'
                )
            x += width
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 17}" class="label">{total}</text>')
    parts.append("</svg>")
    shown = {s for _, _, counts in articles for s in counts}
    return "".join(parts) + _legend(STATUS_COLOURS, shown)


def timeline_chart(timeline: list[tuple[str, dict[str, int]]]) -> str:
    """Vertical stacked bars: checks per day (or week) by outcome group."""
    if not timeline:
        return '<p class="empty">No checks yet: run <code>archiver check</code>.</p>'
    left, plot_w, plot_h, top = 50, 760, 220, 10
    step = plot_w / len(timeline)
    peak = max(sum(counts.values()) for _, counts in timeline) or 1
    height = top + plot_h + 40
    parts = [
        f'<svg class="chart" id="timeline-chart" role="img" width="{left + plot_w + 20}" '
        f'height="{height}" viewBox="0 0 {left + plot_w + 20} {height}">'
        "<title>Checks over time, by outcome</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'class="axis"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" class="label">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="label">0</text>',
    ]
    for index, (label, counts) in enumerate(timeline):
        width = min(step * 0.8, 48.0)
        x = left + index * step + (step - width) / 2
        y = float(top + plot_h)
        for group, colour in OUTCOME_GROUPS.items():
            n = counts.get(group, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                f'<rect class="bar group-{group.replace(" ", "-")}" data-day="{_e(label)}" '
                f'data-count="{n}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{_e(label)}: {n} {group}</title></rect>'
            )
    ticks = {0, len(timeline) - 1, len(timeline) // 2}
    for index in sorted(ticks):
        x = left + index * step + step / 2
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" class="label">'
            f"{_e(timeline[index][0])}</text>"
        )
    parts.append("</svg>")
    shown = {g for _, counts in timeline for g in counts}
    return "".join(parts) + _legend(OUTCOME_GROUPS, shown)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            if key == "url" and value:
                cells.append(f'<td class="url"><a href="{_e(value)}">{_e(value)}</a></td>')
            elif key == "capture":
                cells.append(f"<td>{_capture_cell(row)}</td>")
            elif key == "memento":
                cells.append(f"<td>{_memento_cell(row)}</td>")
            elif isinstance(value, float):
                cells.append(f'<td class="num">{value:.2f}</td>')
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _capture_cell(row: dict[str, Any]) -> str:
    """The local capture nearest the article's date, by number and day."""
    if row.get("capture_id") is None:
        return '<span class="empty">none</span>'
    return f"capture {_e(row['capture_id'])}, {_e(str(row['captured_at'])[:10])}"


def _memento_cell(row: dict[str, Any]) -> str:
    """A link to the web-archive snapshot nearest the article's date, shown by its day, else
    why there is none."""
    if row.get("memento_url"):
        day = _e(str(row["memento_datetime"])[:10])
        return f'<a class="memento" href="{_e(row["memento_url"])}">{day}</a>'
    status = row.get("memento_status")
    why = {
        "none": "none in the web archive",
        "not_looked_up": "web archive not reached: rerun archiver mementos",
    }.get(str(status), "not looked up: run archiver mementos")
    return f'<span class="empty">{why}</span>'


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem}
.meta{color:#666;margin-top:0}.totals{display:flex;gap:1rem;flex-wrap:wrap;padding:0}
.totals li{list-style:none;border-left:6px solid;padding:.3rem .8rem;background:#f6f6f6}
.totals b{display:block;font-size:1.5rem}
.chart text{font-size:12px;fill:#333}.chart .count{fill:#fff;font-weight:bold}
.axis{stroke:#999}.legend{display:flex;gap:1rem;padding:0;margin:.3rem 0 0}
.legend li{list-style:none}.swatch{display:inline-block;width:12px;height:12px;
margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
td.url{word-break:break-all;max-width:22rem}td.num{text-align:right}.empty{color:#666}
.more{color:#444;font-style:italic}
"""


_DATASETTE = "in Datasette (<code>archiver serve</code>)"
_MORE_ARTICLES = (
    "The {shown:,} articles with the most dead or suspect links, of {total:,} that cite links. "
    "Every article's citations and their link status: <code>citations_view</code> filtered by "
    f"<code>article</code>, {_DATASETTE}."
)
_MORE_ROTTEN = (
    "The first {shown:,} of {total:,} citations of dead or suspect links. All of them: "
    f"<code>citations_view</code> filtered by <code>link_status</code>, {_DATASETTE}."
)
_MORE_DRIFTED = (
    "The {shown:,} least similar of {total:,} drifted sources. All of them: the "
    f"<code>drifted_sources</code> query {_DATASETTE}."
)


def _more(shown: int, total: int, note: str) -> str:
    """The note under a list cut short: how many there are, and where to see them all."""
    if total <= shown:
        return ""
    return f'<p class="more">{note.format(shown=shown, total=total)}</p>'


def render_html(data: ReportData) -> str:
    """The whole page, one string."""
    totals = "".join(
        f'<li class="total-{status}" style="border-color:{colour}">'
        f"<b>{data.totals.get(status, 0)}</b>{status}</li>"
        for status, colour in STATUS_COLOURS.items()
    )
    rotten = _table(
        data.rotten,
        [
            ("link_status", "Status"),
            ("article", "Article"),
            ("position", "#"),
            ("claim", "Claim it supported"),
            ("url", "URL"),
            ("latest_outcome", "Latest outcome"),
            ("last_checked", "Last checked"),
            ("capture", "Local capture"),
            ("memento", "Web-archive snapshot"),
        ],
        "No dead or suspect links.",
    )
    drifted = _table(
        data.drifted,
        [
            ("url", "URL"),
            ("title", "Title"),
            ("similarity", "Similarity"),
            ("drift", "Drift"),
            ("checked_at", "Checked"),
            ("article_date", "Cited on"),
            ("capture", "Local capture"),
            ("memento", "Web-archive snapshot"),
        ],
        "No drifted sources.",
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Link health report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>Link health</h1>"
        f'<p class="meta">Citation archive, generated {_e(data.generated_at)}. '
        "Statuses come from the check history: dead means failing on several checks spread "
        "over days, suspect means failing but not yet for long.</p>"
        f'<ul class="totals">{totals}</ul>'
        "<h2>Link status per article</h2>"
        f"{status_chart(data.articles)}"
        f"{_more(len(data.articles), data.articles_total, _MORE_ARTICLES)}"
        "<h2>Checks over time</h2>"
        f"{timeline_chart(data.timeline)}"
        "<h2>Dead and suspect links</h2>"
        f"{rotten}"
        f"{_more(len(data.rotten), data.rotten_total, _MORE_ROTTEN)}"
        "<h2>Drifted sources</h2>"
        f"{drifted}"
        f"{_more(len({row['url'] for row in data.drifted}), data.drifted_total, _MORE_DRIFTED)}"
        "</body></html>\n"
    )


def write_report(db: Database, path: Path, *, now: datetime | None = None) -> Path:
    """Write the report to ``path`` (its folder must exist: a mistyped path creates nothing)."""
    path.write_text(render_html(report_data(db, now=now)), encoding="utf-8")
    LOGGER.info("wrote %s", path)
    return path
