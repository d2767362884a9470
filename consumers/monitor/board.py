"""The web board: server-rendered HTML, no external assets, refreshing itself.

`/` has one row per connection; `/connections/<name>` adds the last hour of lag and freshness
as inline SVG charts. Everything shown comes from the topology or from numbers: no personal data.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

from consumers.monitor.history import Point
from consumers.monitor.service import ConnectionView

COLOURS = {
    "OK": "#1b7f3b",
    "IDLE": "#4a6fa5",
    "LAGGING": "#b7791f",
    "STALLED": "#c05621",
    "STOPPED": "#c53030",
    "SINK_FAILING": "#9b2c2c",
    "DOWN": "#63171b",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1a202c;background:#f7fafc}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:.45rem .6rem;border-bottom:1px solid #e2e8f0;text-align:left;font-size:.9rem}
th{background:#edf2f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{color:#fff;border-radius:4px;padding:.15rem .45rem;font-weight:600;font-size:.8rem}
.meta{color:#4a5568;font-size:.85rem}svg{background:#fff;border:1px solid #e2e8f0}
"""


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _ago(at: float | None, now: float) -> str:
    return "—" if at is None else f"{_age(max(0.0, now - at))} ago"


def _state(status: str) -> str:
    colour = COLOURS.get(status, "#333")
    return f'<span class="state" style="background:{colour}" data-status="{status}">{status}</span>'


def _page(title: str, body: str, refresh: int) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="{refresh}">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def render_board(
    views: Sequence[ConnectionView], *, last_success: float | None, refresh: int = 5
) -> str:
    """The national board: one row per connection."""
    now = time.time()
    rows = []
    for v in views:
        name = html.escape(v.name)
        rows.append(
            f'<tr id="conn-{name}" data-connection="{name}">'
            f'<td><a href="/connections/{name}">{name}</a></td>'
            f"<td>{_state(v.status.value)}</td><td>{html.escape(v.reason)}</td>"
            f'<td class="num">{v.lag_messages:,}</td><td class="num">{_age(v.lag_seconds)}</td>'
            f'<td class="num">{_age(v.freshness_p99)} / {_age(v.freshness_objective)}</td>'
            f"<td>{_ago(v.last_event_at, now)}</td><td>{_ago(v.last_heartbeat_at, now)}</td></tr>"
        )
    body = (
        "<h1>Population bus: connection health</h1>"
        f'<p class="meta">last collection {_ago(last_success, now)}; refreshes every {refresh} s; '
        '<a href="/api/status">JSON</a> · <a href="/metrics">metrics</a></p>'
        "<table><thead><tr><th>connection</th><th>state</th><th>reason</th><th>lag (messages)</th>"
        "<th>lag (seconds)</th><th>freshness p99 / objective</th><th>last event</th>"
        "<th>last heartbeat</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    return _page("Connection health", body, refresh)


def svg_chart(
    points: Sequence[tuple[float, float]],
    *,
    title: str,
    unit: str,
    width: int = 720,
    height: int = 180,
) -> str:
    """A line chart of (time, value) over the last hour, as inline SVG."""
    pad_l, pad_b, pad_t = 56, 22, 20
    now = time.time()
    t0 = now - 3600
    top = max((v for _, v in points), default=0.0) or 1.0
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t

    def xy(t: float, v: float) -> str:
        x = pad_l + plot_w * max(0.0, min(1.0, (t - t0) / 3600))
        y = pad_t + plot_h * (1 - v / top)
        return f"{x:.1f},{y:.1f}"

    line = " ".join(xy(t, v) for t, v in points if t >= t0)
    label = html.escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{label}">'
        f'<text x="{pad_l}" y="14" font-size="12">{label} ({html.escape(unit)}), last hour</text>'
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 10}" '
        f'y2="{pad_t + plot_h}" stroke="#999"/>'
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" stroke="#999"/>'
        f'<text x="4" y="{pad_t + 10}" font-size="11">{top:,.0f}</text>'
        f'<text x="4" y="{pad_t + plot_h}" font-size="11">0</text>'
        f'<text x="{pad_l}" y="{height - 6}" font-size="11">-60 min</text>'
        f'<text x="{width - 40}" y="{height - 6}" font-size="11">now</text>'
        + (
            f'<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="{line}"/>'
            if line
            else ""
        )
        + "</svg>"
    )


def render_connection(view: ConnectionView, history: Sequence[Point], *, refresh: int = 5) -> str:
    """The drill-down of one connection: its hops and the last hour as charts."""
    now = time.time()
    name = html.escape(view.name)
    hops = "".join(
        f"<tr><td>{html.escape(h.group)}</td><td>{html.escape(h.topic)}</td>"
        f'<td class="num">{h.members}</td><td class="num">{h.lag_messages:,}</td>'
        f'<td class="num">{_age(h.lag_seconds)}</td>'
        f'<td class="num">{h.uncommitted_partitions}</td></tr>'
        for h in view.hops
    )
    fresh = [(p.at, p.freshness_p99) for p in history if p.freshness_p99 is not None]
    body = (
        '<p><a href="/">← all connections</a></p>'
        f'<h1 id="connection" data-connection="{name}">{name}</h1>'
        f"<p>{_state(view.status.value)} <span id=reason>{html.escape(view.reason)}</span> "
        f'<span class="meta">{html.escape(view.detail)}; since {_ago(view.since, now)}</span></p>'
        f'<p class="meta">lag {view.lag_messages:,} messages, {_age(view.lag_seconds)}; '
        "freshness p99 "
        f"{_age(view.freshness_p99)} (objective {_age(view.freshness_objective)}); last event "
        f"{_ago(view.last_event_at, now)}; last heartbeat {_ago(view.last_heartbeat_at, now)}</p>"
        "<table><thead><tr><th>group</th><th>topic</th><th>members</th><th>lag (messages)</th>"
        "<th>lag (seconds)</th><th>partitions without commit</th></tr></thead><tbody>"
        + hops
        + "</tbody></table><h2>Last hour</h2>"
        + svg_chart([(p.at, float(p.lag_messages)) for p in history], title="lag", unit="messages")
        + "<br>"
        + svg_chart([(p.at, p.lag_seconds) for p in history], title="lag", unit="seconds")
        + "<br>"
        + (
            svg_chart(fresh, title="freshness p99", unit="seconds")
            if fresh
            else '<p class="meta">freshness p99: — (no component metrics URL configured, '
            "or no event yet)</p>"
        )
    )
    return _page(f"{view.name}: connection health", body, refresh)
