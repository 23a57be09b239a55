"""The status page's HTML: escaped names, broker order and bars, refresh, phone layout, empty states."""

import re
from dataclasses import replace

from broker_lag_exporter.join.facts import Facts, join_all
from broker_lag_exporter.model.health import Health
from broker_lag_exporter.risk.engine import Assessment
from broker_lag_exporter.status.html import render
from broker_lag_exporter.status.view import build_view
from harness.browser import parse
from tests.unit.status import sample


def page(assessment=None, health=None, **kw):
    a = assessment or sample.assessment()
    h = sample.health() if health is None else health
    return render(build_view(a, h, now=sample.NOW, refresh_seconds=kw.pop("refresh", 15), **kw))


def test_names_are_shown_not_run():
    text = page()
    doc = parse(text)
    assert not doc.find("script")
    assert sample.EVIL not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    groups = doc.find("tr", "group")
    assert [g.attrs["data-group"] for g in groups][2] == sample.EVIL
    assert groups[2].find("td")[0].text == sample.EVIL
    # Reasons, errors, zones and source errors are escaped too.
    for raw in ("<of 3>", "<timed out>", "<zone>", "<Forbidden>"):
        assert raw not in text
        assert raw.replace("<", "&lt;").replace(">", "&gt;") in text


def test_nothing_is_loaded_from_elsewhere_and_no_script_runs():
    text = page()
    assert not re.search(r"<(script|link|img|iframe)\b", text)
    assert "http://" not in text
    assert "https://" not in text
    assert "<style>" in text


def test_brokers_are_rows_in_lag_order_with_the_longest_bar_first():
    doc = parse(page())
    rows = doc.find("tr", "broker")
    assert [r.attrs["data-broker-id"] for r in rows] == ["2", "0", "1"]
    widths = [float(r.find("div", "bar")[0].find("span")[0].attrs["style"][6:-1]) for r in rows]
    assert widths[0] == 100.0
    assert widths == sorted(widths, reverse=True)
    assert [r.attrs["data-up"] for r in rows] == ["1", "1", "0"]
    assert "down" in rows[2].classes
    assert "92% of all lag" in rows[0].text
    assert "controller" in rows[0].text


def test_firing_checks_are_shown_with_their_fix():
    doc = parse(page())
    first = doc.find("tr", "broker")[0]
    checks = first.find("div", "finding")
    assert [c.attrs["data-check"] for c in checks] == ["leader_concentration", "no_pdb"]
    assert "Fix: run a preferred leader election" in checks[0].text
    listed = doc.find("section")[0]
    assert listed.attrs["id"] == "findings"
    assert [c.attrs["data-check"] for c in listed.find("div", "finding")] == ["too_few_brokers", "no_pdb"]


def test_pod_and_off_heap_columns_only_where_their_sources_are_on():
    on = page()
    assert "<th>Pod</th>" in on
    assert "<th>Off-heap</th>" in on
    assert "7 restarts, 3 recent" in on
    assert "800 MiB of 1.0 GiB" in on
    off = page(sample.assessment(with_jvm=False, with_kube=False), health={"kafka": sample.health()["kafka"]})
    assert "<th>Pod</th>" not in off
    assert "<th>Off-heap</th>" not in off


def test_refreshes_on_the_poll_interval_and_fits_a_phone():
    text = page(refresh=30)
    assert '<meta http-equiv="refresh" content="30">' in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "@media (max-width:760px)" in text
    assert '<meta http-equiv="refresh" content="1">' in page(refresh=0.2)
    # Each cell says what it is when the table becomes cards.
    for row in parse(text).find("tr", "broker"):
        assert all(td.attrs.get("data-label") for td in row.find("td"))


def test_sources_show_their_state_and_data_age():
    rows = {r.attrs["data-source"]: r for r in parse(page()).find("tr", "source")}
    assert "3 s ago" in rows["kafka"].text
    assert "down" in rows["kubernetes"].classes
    assert "never polled successfully" in rows["kubernetes"].text


def test_empty_states_say_why():
    waiting = page(Assessment(Facts(), ()), health={"kafka": Health()})
    assert "waiting for the first Kafka poll" in waiting
    assert "No risk check is firing." in waiting
    assert "no Kafka data" in waiting
    failing = page(Assessment(Facts(), ()), health={"kafka": Health(False, 1.0, None, 3, "no <broker>")})
    assert "no fresh Kafka data: no &lt;broker&gt;" in failing
    none = page(Assessment(Facts(), ()), health={})
    assert "no source has polled yet" in none


def test_only_the_worst_groups_are_listed():
    text = page(groups_shown=2)
    assert "Consumer groups, most lag first (2 of 4)" in text
    assert len(parse(text).find("tr", "group")) == 2


def test_members_of_a_group_that_could_not_be_described_are_unknown_not_zero():
    kafka = sample.kafka()
    groups = tuple(replace(g, members_age_seconds=None) if g.name == "idle" else g for g in kafka.groups)
    facts = join_all(replace(kafka, groups=groups), sample.jvm(), sample.kube())
    view = build_view(Assessment(facts, ()), sample.health(), now=sample.NOW, refresh_seconds=15)
    assert {g.group: g.members for g in view.groups} == {
        "fraud-slow": 1,
        "checkout-fast": 0,
        sample.EVIL: 0,
        "idle": None,
    }
    rows = {r.attrs["data-group"]: r for r in parse(render(view)).find("tr", "group")}
    assert [td.text for td in rows["idle"].find("td")][4] == "unknown"
    assert [td.text for td in rows["checkout-fast"].find("td")][4] == "0"
