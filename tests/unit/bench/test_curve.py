"""The scaling curve's growth lines: the extra cost per unit added, step by step."""

from bench.curve import growth


def point(partitions: float, committed: float, **costs: float) -> dict[str, float]:
    """Return one measured point of the curve."""
    return {"partitions": partitions, "committed_offsets": committed, **costs}


def test_a_linear_curve_costs_the_same_per_unit_at_every_step() -> None:
    def cost(p: float, c: float) -> dict[str, float]:
        return {
            "cpu_per_refresh_seconds_median": 0.05 + p * 20e-6 + c * 30e-6,
            "peak_rss_bytes": 50e6 + p * 3000 + c * 400,
            "metrics_bytes": 1000 + c * 300,
            "requests_per_refresh": 5 + p / 1000,
        }

    grid = [(1_000, 1_000), (1_000, 10_000), (10_000, 10_000), (10_000, 100_000), (100_000, 100_000)]
    lines = growth([point(p, c, **cost(p, c)) for p, c in grid])
    assert len(lines) == 4
    per_partition = [line for line in lines if "per partition" in line]
    per_offset = [line for line in lines if "per committed offset" in line]
    assert len(per_partition) == len(per_offset) == 2
    assert all("CPU   20.0 us/refresh" in line and "RSS   3,000 B" in line for line in per_partition)
    assert all("requests  1.00 per 1,000" in line for line in per_partition)
    assert all("CPU   30.0 us/refresh" in line and "/metrics  300.0 B" in line for line in per_offset)


def test_steps_that_grow_both_dimensions_or_shrink_are_not_divided() -> None:
    costs = {"cpu_per_refresh_seconds_median": 1.0, "peak_rss_bytes": 1.0}
    both = [point(1_000, 1_000, **costs), point(2_000, 2_000, **costs), point(1_000, 2_000, **costs)]
    assert growth(both) == []
