"""Rebalances counted from member and state changes between polls."""

import pytest

from broker_lag_exporter.model.kafka import Group, Member
from broker_lag_exporter.sources.kafka.rebalances import WINDOW_SECONDS, Rebalances, Seen, rebalanced, seen


def group(name, *members, state="Stable", error=None):
    # A group with an error here is one DescribeGroups failed for.
    return Group(
        name,
        0,
        state,
        members=tuple(Member(m, "c", "h") for m in members),
        error=error,
        members_age_seconds=None if error else 0.0,
    )


@pytest.mark.parametrize(
    ("case", "before", "now", "expected"),
    [
        ("first-sighting", None, Seen(frozenset({"a"}), False), False),
        ("unchanged", Seen(frozenset({"a"}), False), Seen(frozenset({"a"}), False), False),
        ("member-joined", Seen(frozenset({"a"}), False), Seen(frozenset({"a", "b"}), False), True),
        ("member-left", Seen(frozenset({"a", "b"}), False), Seen(frozenset({"a"}), False), True),
        ("last-member-left", Seen(frozenset({"a"}), False), Seen(frozenset(), False), True),
        ("member-replaced", Seen(frozenset({"a"}), False), Seen(frozenset({"b"}), False), True),
        ("entered-rebalancing", Seen(frozenset({"a"}), False), Seen(frozenset({"a"}), True), True),
        ("still-rebalancing", Seen(frozenset({"a"}), True), Seen(frozenset({"a"}), True), False),
        # The member that joined belongs to the rebalance already counted when it began.
        ("joined-during-rebalance", Seen(frozenset({"a"}), True), Seen(frozenset({"a", "b"}), False), False),
        ("not-described", Seen(frozenset({"a"}), False), None, False),
    ],
)
def test_rebalanced(case, before, now, expected):
    assert rebalanced(before, now) == expected, case


def test_seen_ignores_groups_that_could_not_be_described():
    assert seen(group("g", error="DescribeGroups error code 15", state="Unknown")) is None
    assert seen(group("g", "a", state="PreparingRebalance")) == Seen(frozenset({"a"}), True)


def test_counts_accumulate_recent_ones_expire_and_vanished_groups_are_forgotten():
    counter = Rebalances()
    polls = [
        (0.0, [group("g", "a"), group("h")]),
        (15.0, [group("g", "a", "b"), group("h")]),
        # g's describe failed: no change counted, the last sighting is kept for the next poll.
        (30.0, [group("g", error="timeout", state="Unknown"), group("h")]),
        (45.0, [group("g", "b"), group("h")]),
        (60.0, [group("g", "b")]),
    ]
    results = [counter.observe(groups, now) for now, groups in polls]
    assert [r[0] for r in results] == [
        {"g": 0, "h": 0},
        {"g": 1, "h": 0},
        {"g": 1, "h": 0},
        {"g": 2, "h": 0},
        {"g": 2},
    ]
    total, recent = counter.observe([group("g", "c")], 15.0 + WINDOW_SECONDS)
    # The rebalance at 15 s left the window; the ones at 45 s and now remain.
    assert (total, recent) == ({"g": 3}, {"g": 2})
