"""The lint report: one result per object and check, rendered as text or JSON."""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One check on one object of a manifest."""

    path: str
    object: str
    check: str
    severity: str
    firing: bool
    reason: str
    fix: str


NOTHING = "no Kafka broker, consumer or ScaledObject found"


def render_text(results: Sequence[LintFinding], objects: int, unchecked: Sequence[str] = ()) -> str:
    """Return one paragraph per finding (what, why, fix), the files checked for nothing, a summary line."""
    firing = [r for r in results if r.firing]
    lines = []
    for r in firing:
        lines.append(f"{r.path}: {r.object}: {r.check} ({r.severity})")
        lines.append(f"  {r.reason}")
        lines.append(f"  fix: {r.fix} (docs/risks.md#{r.check})")
    checked = len(results)
    if not results:
        lines.append(f"nothing checked: {NOTHING} in {objects} object(s)")
        return "\n".join(lines) + "\n"
    lines.extend(f"nothing checked in {path}: {NOTHING}" for path in unchecked)
    lines.append(
        f"{len(firing)} finding(s) in {len({r.object for r in firing})} object(s); "
        f"{checked} check(s) over {objects} object(s)"
        if firing
        else f"no findings: {checked} check(s) over {objects} object(s)"
    )
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[LintFinding], objects: int, unchecked: Sequence[str] = ()) -> str:
    """Return the findings (firing ones), what was checked and the files checked for nothing, as JSON."""
    body = {
        "findings": [asdict(r) for r in results if r.firing],
        "passed": [asdict(r) for r in results if not r.firing],
        "objects": objects,
        "unchecked_files": list(unchecked),
    }
    return json.dumps(body, indent=2) + "\n"
