"""The benchmark's figures as a PNG (matplotlib): our scaling curve and the peers side by side."""

from collections.abc import Mapping, Sequence
from pathlib import Path

# A Figure without pyplot renders to files only: no display, no GUI toolkit, no global state.
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.peers import Figures, Result

OURS_COLOR, PEER_COLORS = "#e8590c", ("#1c7ed6", "#37b24d", "#ae3ec9")


def write_png(path: Path, scaling: Sequence[Mapping[str, float]], results: Sequence[Result] = ()) -> Path:
    """Draw the scaling curve (left) and, when peers ran, the peers compared (right) into `path`."""
    fig = Figure(figsize=(13, 4.8))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    _scaling(axes[0], scaling)
    _peers(axes[1], results)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _scaling(ax: Axes, scaling: Sequence[Mapping[str, float]]) -> None:
    x = [r["partitions"] for r in scaling]
    lines = (
        ("refresh_seconds_median", "full Kafka refresh (background)", "-"),
        ("join_seconds_median", "join + risk after a poll (background)", "--"),
        ("render_seconds_median", "/metrics render", ":"),
    )
    for key, label, style in lines:
        ax.plot(x, [r[key] for r in scaling], style, marker="o", color=OURS_COLOR, label=label)
    ax.set_xlabel("partitions (with groups and committed offsets in proportion)")
    ax.set_ylabel("seconds (median)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    requests = ax.twinx()
    requests.plot(x, [r["requests_per_refresh"] for r in scaling], marker="s", color="gray", alpha=0.6)
    requests.set_ylabel("Kafka requests per refresh (grey)")
    requests.set_ylim(bottom=0, top=max(10.0, *(r["requests_per_refresh"] for r in scaling)) * 1.5)
    last = scaling[-1] if scaling else None
    title = "broker-lag-exporter as the cluster grows"
    if last is not None:
        title += f"\n{last['partitions']:,.0f} partitions, {last['groups']:,.0f} groups: peak RSS "
        title += f"{last['peak_rss_bytes'] / 2**20:.0f} MiB, /metrics {last['metrics_bytes'] / 1024:,.0f} KiB"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)


def _peers(ax: Axes, results: Sequence[Result]) -> None:
    measured = [r for r in results if isinstance(r, Figures)]
    missing = [r for r in results if not isinstance(r, Figures)]
    ax.set_title("the same broker, each exporter alone, over HTTP", fontsize=10)
    if not measured:
        ax.axis("off")
        ax.text(0.5, 0.5, "peers not measured (--no-peers)", ha="center", va="center", color="gray")
        return
    names = [f"{r.name} {r.version}".strip() for r in measured]
    first = [r.first_full_metrics_seconds for r in measured]
    median = [r.scrape_median for r in measured]
    y = range(len(measured))
    colors = [OURS_COLOR if i == 0 else PEER_COLORS[(i - 1) % len(PEER_COLORS)] for i in y]
    ax.barh(
        [i + 0.2 for i in y], first, height=0.38, color=colors, alpha=0.45, label="start to first /metrics"
    )
    ax.barh([i - 0.2 for i in y], median, height=0.38, color=colors, label="/metrics, median GET")
    for i, r in enumerate(measured):
        ax.text(first[i], i + 0.2, f" {_seconds(first[i])}", va="center", fontsize=8)
        label = f" {_seconds(median[i])}, peak RSS {r.peak_rss_bytes / 2**20:.0f} MiB"
        ax.text(median[i], i - 0.2, label, va="center", fontsize=8)
    ax.set_yticks(list(y), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=max(first + median) * 30)  # room for the labels right of the bars
    ax.set_xlabel("seconds (log scale)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if missing:
        note = "; ".join(f"{r.name}: not available" for r in missing)
        ax.text(0.0, -0.22, note, transform=ax.transAxes, fontsize=8, color="gray")


def _seconds(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:.1f} s"
