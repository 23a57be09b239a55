"""The benchmark's PNG: drawn from the figures it prints, with or without peers."""

from pathlib import Path

from PIL import Image

from bench.peers import Figures, Unavailable
from bench.plot import write_png

SCALING = [
    {
        "partitions": p,
        "groups": p / 20,
        "refresh_seconds_median": p / 12_000,
        "join_seconds_median": p / 300_000,
        "render_seconds_median": p / 700_000,
        "requests_per_refresh": 15,
        "peak_rss_bytes": 113 * 2**20,
        "metrics_bytes": 203 * 1024,
    }
    for p in (2_500, 5_000, 7_500, 10_000)
]
OURS = Figures("broker-lag-exporter", "0.1.0", 3.5, 0.02, (0.013, 0.014), 200_000, 3_000, 600, True, 2**27)
PEER = Figures("kafka_exporter", "1.9.0", 0.1, 25.0, (24.0, 26.0), 2_000_000, 30_000, 10_000, False, 2**28)


def test_draws_the_scaling_curve_and_the_peers(tmp_path: Path):
    path = write_png(tmp_path / "out" / "bench.png", SCALING, [OURS, PEER, Unavailable("kminion", "no Go")])
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (1300, 480)


def test_draws_without_peers(tmp_path: Path):
    path = write_png(tmp_path / "bench.png", SCALING[:1])
    with Image.open(path) as image:
        assert image.size == (1300, 480)
