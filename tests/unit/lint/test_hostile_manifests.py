"""`lint` over manifests with missing, null or mistyped fields: a report or exit 2, never a traceback."""

import contextlib
import copy
import io
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broker_lag_exporter.lint.manifests import load_documents
from broker_lag_exporter.lint.run import EXIT_CLEAN, EXIT_FINDINGS, EXIT_NOTHING_CHECKED, EXIT_UNREADABLE, run
from tests.unit.model.test_kube_hostile import HOSTILE, mutate, paths

MANIFESTS = Path(__file__).parent / "manifests"
DOCS = [
    doc
    for name in ("risky", "strimzi", "confluent")
    for doc, _ in load_documents([MANIFESTS / f"{name}.yaml"])
]
EXITS = {EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE, EXIT_NOTHING_CHECKED}


@st.composite
def hostile_manifests(draw: st.DrawFn) -> list[Any]:
    """Return every document of the sample manifests, one of them with one to three fields mutated."""
    docs = copy.deepcopy(DOCS)
    i = draw(st.integers(0, len(docs) - 1))
    for _ in range(draw(st.integers(1, 3))):
        value = copy.deepcopy(draw(HOSTILE))
        docs[i] = mutate(
            docs[i],
            draw(st.sampled_from(paths(docs[i]))),
            draw(st.sampled_from(["delete", "replace"])),
            value,
        )
    return docs


def lint(docs: list[Any]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_text(yaml.safe_dump_all(docs, allow_unicode=True))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return run([path], "json", None, {})


def test_the_sample_manifests_lint():
    assert lint(copy.deepcopy(DOCS)) == EXIT_FINDINGS


def changed(i: int, path: tuple[str | int, ...], value: object) -> list[Any]:
    return [mutate(copy.deepcopy(d), path, "replace", value) if n == i else d for n, d in enumerate(DOCS)]


# The crashes and the hang this property found, kept as regressions.
@example(changed(0, ("kind",), None))  # AttributeError: None has no endswith
@example(changed(0, ("metadata",), 1.5))  # AttributeError in the Strimzi cluster lookup
@example(changed(0, ("spec", "replicas"), float("inf")))  # OverflowError
@example(changed(0, ("spec", "replicas"), 10**6))  # one pod per replica, pairs compared: hours
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_manifests())
def test_any_mutation_is_reported_or_unreadable(docs):
    assert lint(docs) in EXITS
