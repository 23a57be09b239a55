"""The status page as one self-contained HTML document: inline CSS, no script, every name escaped. Pure."""

import time
from collections.abc import Iterable
from html import escape

from broker_lag_exporter import __version__
from broker_lag_exporter.status.view import (
    BrokerLine,
    FindingLine,
    GroupLine,
    MemoryCell,
    PodCell,
    SourceLine,
    StatusView,
)

# The page runs no script and loads nothing: the policy makes a missed escape inert too.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#fff;--card:#f6f8fa;--bar:#e8590c;
--track:#eaeef2;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--info:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--bg:#0d1117;
--card:#161b22;--bar:#f0883e;--track:#21262d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--info:#58a6ff}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;
color:var(--fg);background:var(--bg)}
main,header,footer{max-width:1200px;margin:0 auto}
h1{font-size:1.4rem;margin:0 0 .2rem}
h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.meta,footer,small,.muted{color:var(--muted)}
nav a{margin-right:.8rem}
a{color:var(--info)}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;vertical-align:top;padding:.45rem .5rem;border-bottom:1px solid var(--line)}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.down td{background:color-mix(in srgb,var(--bad) 8%,transparent)}
.bar{height:.7rem;background:var(--track);border-radius:.35rem;overflow:hidden;min-width:8rem;margin:.25rem 0}
.bar span{display:block;height:100%;background:var(--bar)}
.bar.mem span{background:var(--info)}.bar.mem.near span{background:var(--bad)}
.lagnum{font-weight:600;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.75rem;font-weight:600;
color:#fff;vertical-align:middle}
.badge.up,.badge.ready{background:var(--ok)}.badge.down,.badge.notready,.badge.critical{background:var(--bad)}
.badge.warning{background:var(--warn)}.badge.info{background:var(--info)}
.tag{font-size:.75rem;color:var(--muted);border:1px solid var(--line);border-radius:.3rem;padding:0 .3rem}
.bad,.near{color:var(--bad);font-weight:600}.warn{color:var(--warn)}
.finding{margin:.1rem 0 .5rem}.finding .fix{display:block;font-size:.85rem;color:var(--muted)}
.empty{padding:.8rem;background:var(--card);border-radius:.4rem}
ul.findings{list-style:none;padding:0;margin:0}
ul.findings li{padding:.5rem .7rem;background:var(--card);border-radius:.4rem;margin-bottom:.4rem}
@media (max-width:760px){
body{padding:.6rem}
table,tbody,tr,td{display:block;width:100%}
thead{display:none}
tr{display:grid;grid-template-columns:1fr 1fr;border:1px solid var(--line);border-radius:.5rem;
margin-bottom:.7rem;padding:.3rem .2rem}
td.wide{grid-column:1/-1}
td{border:0;padding:.2rem .5rem}
td.n{text-align:left}
td::before{content:attr(data-label);display:block;font-size:.7rem;text-transform:uppercase;
letter-spacing:.03em;color:var(--muted)}
}
"""


def render(view: StatusView) -> str:
    """Return the whole page for one view."""
    refresh = max(1, round(view.refresh_seconds))
    body = [
        _header(view),
        "<main>",
        _findings(view),
        _brokers(view),
        _groups(view),
        _sources(view.sources),
        "</main>",
        f"<footer><p>broker-lag-exporter {escape(__version__)}. Each bar is a broker's lag against "
        "the worst broker's; the share is of all consumer lag. Lag is added to the broker leading "
        "each partition (or last leading it, when it has no leader).</p></footer>",
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="refresh" content="{refresh}">\n'
        "<title>Kafka brokers · broker-lag-exporter</title>\n"
        f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _header(view: StatusView) -> str:
    down = sum(1 for b in view.brokers if not b.up)
    if view.has_kafka:
        facts = [
            _count(len(view.brokers), "broker") + (f', <span class="bad">{down} down</span>' if down else ""),
            f"{_count(view.total_lag, 'message')} of consumer lag",
            _count(view.partitions, "partition"),
            _count(view.groups_total, "group"),
        ]
    else:
        facts = ['<span class="bad">no Kafka data</span>']
    updated = time.strftime("%H:%M:%S UTC", time.gmtime(view.generated_at))
    facts.append(f"updated {updated}, refreshes every {_duration(view.refresh_seconds)}")
    return (
        "<header><h1>Kafka brokers</h1>\n"
        f'<p class="meta" id="summary">{" · ".join(facts)}</p>\n'
        '<nav><a href="metrics">/metrics</a><a href="api/brokers">/api/brokers</a>'
        '<a href="healthz">/healthz</a><a href="readyz">/readyz</a></nav></header>'
    )


def _findings(view: StatusView) -> str:
    on_brokers = sum(len(b.findings) for b in view.brokers)
    if not view.findings:
        text = (
            f"No cluster or group risk check is firing; {on_brokers} on brokers (below)."
            if on_brokers
            else "No risk check is firing."
        )
        return f'<section id="findings"><h2>Risk checks</h2><p class="empty">{text}</p></section>'
    items = "\n".join(f"<li>{_finding(f, subject=True)}</li>" for f in view.findings)
    return (
        f'<section id="findings"><h2>Firing risk checks</h2><ul class="findings">\n{items}\n</ul></section>'
    )


def _finding(f: FindingLine, *, subject: bool = False) -> str:
    who = ""
    if subject and f.subject:
        who = f" {'broker' if f.scope == 'broker' else 'group'} <b>{escape(f.subject)}</b>:"
    return (
        f'<div class="finding" data-check="{escape(f.check)}">'
        f'<span class="badge {escape(f.severity)}">{escape(f.severity)}</span> '
        f'<b title="{escape(f.summary)}">{escape(f.check)}</b>{who} {escape(f.reason)}'
        f'<span class="fix">Fix: {escape(f.fix)} ({escape(f.doc)})</span></div>'
    )


def _brokers(view: StatusView) -> str:
    if not view.brokers:
        why = "no broker in the latest Kafka metadata" if view.has_kafka else _no_kafka(view.sources)
        return f'<section id="brokers"><h2>Brokers</h2><p class="empty">{escape(why)}</p></section>'
    heads = ["Broker", "Consumer lag", "Leads", "Replication"]
    heads += ["Pod"] if view.show_pods else []
    heads += ["Off-heap"] if view.show_memory else []
    heads += ["Firing checks"]
    rows = "\n".join(_broker_row(b, view) for b in view.brokers)
    return (
        '<section id="brokers"><h2>Brokers, most lag first</h2><table>'
        f"<thead><tr>{''.join(f'<th>{h}</th>' for h in heads)}</tr></thead>"
        f"<tbody>\n{rows}\n</tbody></table></section>"
    )


def _broker_row(b: BrokerLine, view: StatusView) -> str:
    state = "up" if b.up else "down"
    ident = f'<b>{b.broker_id}</b> <span class="badge {state}">{state}</span>'
    if b.controller:
        ident += ' <span class="tag">controller</span>'
    mostly = (
        f"<br><small>most from {escape(b.worst_group)} ({b.worst_group_lag:,})</small>"
        if b.worst_group
        else ""
    )
    lag = (
        f'<div class="bar" data-bar="{b.bar:.4f}"><span style="width:{b.bar * 100:.1f}%"></span></div>'
        f'<span class="lagnum">{b.lag:,}</span> <span class="share">{b.lag_share:.0%} of all lag</span>'
        f"{mostly}"
    )
    leads = (
        f"{_count(b.leader_partitions, 'partition')} ({b.leader_share:.0%})<br>"
        f"<small>{_count(b.topics_led, 'topic')} led</small>"
    )
    replication = []
    if b.offline:
        replication.append(f'<span class="bad">{b.offline:,} offline</span>')
    if b.under_replicated:
        replication.append(f'<span class="warn">{b.under_replicated:,} under-replicated</span>')
    cells = [
        ("Broker", ident),
        ("Consumer lag", lag),
        ("Leads", leads),
        ("Replication", "<br>".join(replication) or '<span class="muted">in sync</span>'),
    ]
    if view.show_pods:
        cells.append(("Pod", _pod(b.pod)))
    if view.show_memory:
        near = any(f.check == "offheap_near_limit" for f in b.findings)
        cells.append(("Off-heap", _memory(b.memory, near_limit=near)))
    findings = "".join(_finding(f) for f in b.findings) or '<span class="muted">none</span>'
    cells.append(("Firing checks", findings))
    # On a phone each row is a card of two columns; the bar and the findings take the full width.
    wide = {"Consumer lag", "Firing checks"}
    tds = "".join(
        f'<td{" class=wide" if label in wide else ""} data-label="{label}">{html}</td>'
        for label, html in cells
    )
    return (
        f'<tr class="broker {state}" data-broker-id="{b.broker_id}" data-up="{int(b.up)}" '
        f'data-lag="{b.lag}">{tds}</tr>'
    )


def _pod(pod: PodCell | None) -> str:
    if pod is None or not pod.name:
        return '<span class="muted">no pod found</span>'
    ready = (
        '<span class="badge ready">ready</span>'
        if pod.ready
        else '<span class="badge notready">not ready</span>'
    )
    restarts = _count(pod.restarts, "restart")
    if pod.recent_restarts:
        restarts = f'<span class="bad">{restarts}, {pod.recent_restarts:,} recent</span>'
    where = " · ".join(escape(x) for x in (pod.node, pod.zone) if x)
    last = f"<br><small>last exit: {escape(pod.last_termination)}</small>" if pod.last_termination else ""
    return (
        f"{escape(pod.name)} {ready}<br>{restarts}" + (f"<br><small>{where}</small>" if where else "") + last
    )


def _memory(memory: MemoryCell | None, *, near_limit: bool) -> str:
    if memory is None or memory.offheap_bytes is None:
        return f'<span class="muted">{escape(memory.failure if memory else "unknown")}</span>'
    used = _bytes(memory.offheap_bytes)
    if memory.limit_bytes is None or memory.limit_ratio is None:
        return f'{used}<br><small class="muted">no limit known</small>'
    ratio = memory.limit_ratio
    near = " near" if near_limit else ""
    width = min(1.0, ratio)
    return (
        f'<div class="bar mem{near}" data-bar="{width:.4f}"><span style="width:{width * 100:.1f}%"></span>'
        f'</div>{used} of {_bytes(memory.limit_bytes)} <span class="{near.strip()}">({ratio:.0%})</span>'
    )


def _groups(view: StatusView) -> str:
    title = "Consumer groups, most lag first"
    if not view.groups:
        why = "no consumer group has committed offsets" if view.has_kafka else "no Kafka data"
        return f'<section id="groups"><h2>{title}</h2><p class="empty">{why}</p></section>'
    if view.groups_total > len(view.groups):
        title += f" ({len(view.groups)} of {view.groups_total:,})"
    rows = "\n".join(_group_row(g) for g in view.groups)
    return (
        f'<section id="groups"><h2>{title}</h2><table><thead><tr><th>Group</th><th class="n">Lag</th>'
        "<th>Mostly on</th><th>State</th><th class=n>Members</th><th class=n>Partitions</th></tr></thead>"
        f"<tbody>\n{rows}\n</tbody></table></section>"
    )


def _group_row(g: GroupLine) -> str:
    on = f"broker {g.broker_id} ({g.broker_share:.0%})" if g.broker_id is not None else "—"
    state = escape(g.state) + (f'<br><small class="bad">{escape(g.error)}</small>' if g.error else "")
    members = '<span class="muted">unknown</span>' if g.members is None else f"{g.members:,}"
    return (
        f'<tr class="group" data-group="{escape(g.group)}" data-lag="{g.lag}">'
        f'<td data-label="Group">{escape(g.group)}</td>'
        f'<td class="n" data-label="Lag"><span class="lagnum">{g.lag:,}</span></td>'
        f'<td data-label="Mostly on">{on}</td><td data-label="State">{state}</td>'
        f'<td class="n" data-label="Members">{members}</td>'
        f'<td class="n" data-label="Partitions">{g.partitions:,}</td></tr>'
    )


def _sources(sources: Iterable[SourceLine]) -> str:
    rows = []
    for s in sources:
        state = "up" if s.up else "down"
        age = _duration(s.age_seconds) + " ago" if s.age_seconds is not None else "never polled successfully"
        rows.append(
            f'<tr class="source {state}" data-source="{escape(s.source)}">'
            f'<td data-label="Source">{escape(s.source)}</td>'
            f'<td data-label="Status"><span class="badge {state}">{state}</span></td>'
            f'<td data-label="Data from">{age}</td>'
            f'<td class="n" data-label="Last poll">{s.duration_seconds:.2f} s</td>'
            f'<td class="n" data-label="Failed polls">{s.errors_total:,}</td>'
            f'<td data-label="Last error">{escape(s.last_error) or "—"}</td></tr>'
        )
    if not rows:
        return '<section id="sources"><h2>Sources</h2><p class="empty">no source has polled yet</p></section>'
    return (
        '<section id="sources"><h2>Sources</h2><table><thead><tr><th>Source</th><th>Status</th>'
        '<th>Data from</th><th class="n">Last poll</th><th class="n">Failed polls</th><th>Last error</th>'
        "</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table></section>"
    )


def _no_kafka(sources: Iterable[SourceLine]) -> str:
    kafka = next((s for s in sources if s.source == "kafka"), None)
    if kafka is None or (kafka.errors_total == 0 and kafka.age_seconds is None):
        return "waiting for the first Kafka poll"
    return f"no fresh Kafka data: {kafka.last_error or 'the last poll failed'}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{n:.0f} B"
