"""The status page in a real browser: headless Chromium reads it from a served exporter on a lagging cluster.

Broker 1 leads the partitions holding most of the lag, so its row comes first with
the full bar; a group named like a script is shown as text; after SIGKILL of
broker 1 its row is marked down. Screenshots are left in the test's tmp path.
"""

import base64
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.browser import Chromium, Element, parse
from harness.exporter import ExporterProcess
from harness.kafka.cluster import KafkaCluster
from harness.process import wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.browser]

USER, PASSWORD = "viewer", "s3cret"
# Broker 1 is the preferred leader of four of six partitions, which hold most of the messages.
ASSIGNMENT = [[1, 0], [1, 2], [1, 0], [1, 2], [0, 1], [2, 1]]
MESSAGES = [100, 100, 100, 100, 60, 30]
EVIL = "<script>document.body.setAttribute('data-pwned','1')</script>"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    with KafkaCluster.start(3, workdir=tmp_path / "kafka") as kafka:
        kafka.create_topic("orders", partitions=6, replication_factor=2, assignment=ASSIGNMENT)
        for partition, count in enumerate(MESSAGES):
            kafka.produce("orders", count, partition)
        kafka.commit_offsets("fraud-slow", {("orders", p): 0 for p in range(6)})
        kafka.commit_offsets(EVIL, {("orders", 5): 20})
        yield kafka


@pytest.fixture
def exporter(cluster: KafkaCluster, tmp_path: Path) -> Iterator[ExporterProcess]:
    args = ["--poll-interval-seconds", "2", "--request-timeout-seconds", "2"]
    args += ["--web-basic-auth-username", USER, "--web-basic-auth-password", PASSWORD]
    with ExporterProcess.start(
        tmp_path / "exporter", bootstrap_servers=cluster.bootstrap_servers, args=args
    ) as e:
        yield e


def api(exporter: ExporterProcess) -> dict[str, Any]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"http://{exporter.address}/api/brokers", headers={"Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.load(response))


def broker_rows(dom: Element) -> list[Element]:
    return dom.find("tr", "broker")


def bar_width(row: Element) -> float:
    style = row.find("div", "bar")[0].find("span")[0].attrs["style"]
    return float(style.removeprefix("width:").removesuffix("%"))


def test_chromium_shows_the_lagging_broker_first_and_a_killed_one_down(
    cluster: KafkaCluster, exporter: ExporterProcess, tmp_path: Path
):
    wait_until(
        lambda: [b["lag"] for b in api(exporter)["brokers"]] == [400, 60, 40], timeout=30, what="lag joined"
    )
    browser = Chromium(tmp_path / "chromium")
    # Credentials in the URL: the browser answers the page's basic-auth challenge with them.
    url = f"http://{USER}:{PASSWORD}@{exporter.address}/"

    dom = parse(browser.dump_dom(url))
    rows = broker_rows(dom)
    assert [r.attrs["data-broker-id"] for r in rows] == ["1", "0", "2"]
    widths = [bar_width(r) for r in rows]
    assert widths[0] == 100.0
    assert widths[0] > widths[1] > widths[2] > 0
    assert all(r.attrs["data-up"] == "1" for r in rows)
    assert "400" in rows[0].text
    assert "most from fraud-slow" in rows[0].text
    # The script-named group is text in a cell, and no script ran.
    body = dom.find("body")[0]
    assert "data-pwned" not in body.attrs
    assert not dom.find("script")
    groups = [r.find("td")[0].text for r in dom.find("tr", "group")]
    assert groups == ["fraud-slow", EVIL]
    sources = {r.attrs["data-source"]: r for r in dom.find("tr", "source")}
    assert "up" in sources["kafka"].classes
    shot = browser.screenshot(url, tmp_path / "status-page.png")
    phone = browser.screenshot(url, tmp_path / "status-page-phone.png", width=390, height=1600)

    cluster.kill(1)
    wait_until(
        lambda: not next(b for b in api(exporter)["brokers"] if b["broker_id"] == 1)["up"],
        timeout=30,
        what="broker 1 down in /api/brokers",
    )
    dom = parse(browser.dump_dom(url))
    down = next(r for r in broker_rows(dom) if r.attrs["data-broker-id"] == "1")
    assert down.attrs["data-up"] == "0"
    assert "down" in down.classes
    assert [b.text for b in down.find("span", "badge")] == ["down"]
    assert "1 down" in dom.find("p", "meta")[0].text
    killed = browser.screenshot(url, tmp_path / "status-page-broker-down.png")
    print(f"screenshots: {shot} {phone} {killed}")
