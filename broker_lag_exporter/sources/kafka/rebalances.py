"""Rebalances per group, counted from what changes between polls (DescribeGroups has no generation).

DescribeGroups (any version) does not return the generation id, and asking
for it through JoinGroup or OffsetCommit would disturb the group. What a poll
does see is each group's member ids and state: a classic group rebalances
whenever a member joins or leaves (each new member gets a new id), and it
shows `PreparingRebalance`/`CompletingRebalance` while one is under way. So
one rebalance is counted when a poll finds the group rebalancing, or with a
different member set, after a poll that found it settled. That is a lower
bound: a member that leaves and comes back within one poll interval counts
once, and a rebalance started and finished between polls with the same
members is missed.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from broker_lag_exporter.model.kafka import Group

REBALANCING = frozenset({"PreparingRebalance", "CompletingRebalance", "Reconciling", "Assigning"})
WINDOW_SECONDS = 3600.0  # the `rebalance_storm` check's window: rebalances in the last hour


@dataclass(frozen=True, slots=True)
class Seen:
    """What one poll saw of a group: its member ids and whether it was rebalancing."""

    members: frozenset[str]
    rebalancing: bool


def seen(group: Group) -> Seen | None:
    """Return what counts for rebalances, or None when the group was not described this poll.

    A description carried over from an earlier poll (or none at all) is no new sighting:
    a failed DescribeGroups must never look like every member leaving.
    """
    if group.members_age_seconds != 0.0:
        return None
    return Seen(frozenset(m.member_id for m in group.members), group.state in REBALANCING)


def rebalanced(before: Seen | None, now: Seen | None) -> bool:
    """Return whether a new rebalance started between two polls (never on the first sighting).

    While the last poll saw a rebalance under way, members joining or leaving
    belong to that rebalance, already counted when it was first seen.
    """
    if before is None or now is None or before.rebalancing:
        return False
    return before.members != now.members or now.rebalancing


class Rebalances:
    """Counts each group's rebalances since the exporter first saw it, and those of the last hour."""

    def __init__(self) -> None:
        self._seen: dict[str, Seen] = {}
        self._total: dict[str, int] = {}
        self._times: dict[str, deque[float]] = {}

    def observe(self, groups: Iterable[Group], now: float) -> tuple[dict[str, int], dict[str, int]]:
        """Return (total, within the last hour) per group after this poll; forget vanished groups."""
        seen_now: dict[str, Seen] = {}
        total: dict[str, int] = {}
        times: dict[str, deque[float]] = {}
        for group in groups:
            name = group.name
            current = seen(group)
            before = self._seen.get(name)
            if current is None:
                # Not described this poll: keep the last sighting to compare with the next one.
                current = before
            recent = self._times.get(name, deque())
            count = self._total.get(name, 0)
            if rebalanced(before, current):
                count += 1
                recent.append(now)
            while recent and recent[0] <= now - WINDOW_SECONDS:
                recent.popleft()
            if current is not None:
                seen_now[name] = current
            total[name], times[name] = count, recent
        self._seen, self._total, self._times = seen_now, total, times
        return total, {name: len(t) for name, t in times.items()}
