"""The live page in a real headless Chromium (Debian's, driven by Playwright): every node is
shown, states change live during a run, a failing node shows its YAML position, and a saved
report opens with the network off. Screenshots go to the test artifacts folder
($ATOMITON_TEST_ARTIFACTS, default ``test-artifacts/`` at the top of the checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atomiton.client import Client

from conftest import BOOM_AT, ServerFactory

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("ATOMITON_TEST_ARTIFACTS")
    or Path(__file__).resolve().parents[2] / "test-artifacts"
)

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install chromium (.ci/run does) for the browser test")
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"serve-{name}.png"), full_page=True)


def node(page: Any, node_id: str) -> Any:
    return page.locator(f'#graph [data-node-id="{node_id}"]')


# The node details as shown: each <dt> with the text of the <dd> after it.
_DETAILS = """() => Object.fromEntries([...document.querySelectorAll('#detail-body dt')]
    .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))"""


def shows_detail(page: Any, name: str, value: str) -> None:
    """Wait until the node details show ``name`` with ``value`` (a click may fetch values)."""
    try:
        page.wait_for_function(
            f"([name, value]) => ({_DETAILS})()[name] === value", arg=[name, value], timeout=15000
        )
    except sync_api.TimeoutError:
        shown = page.evaluate(_DETAILS)
        raise AssertionError(f"{name!r} is not {value!r} in the node details: {shown}") from None


def test_the_page_follows_a_run_live_and_shows_failures_at_their_position(
    flows: Path, server_factory: ServerFactory, browser: Any
) -> None:
    (flows / "live.yaml").write_text(
        (flows / "steps.yaml").read_text().replace("sleep(1.0)", "sleep(4)")
    )
    db = flows / "history.db"
    served = server_factory("--db", str(db))
    page = browser.new_page()
    with Client.connect(served.rpc) as client:
        run_id = client.run("live.yaml")
        page.goto(f"{served.url}?run={run_id}")
        page.wait_for_selector("#graph [data-node-id]")
        assert page.locator("#graph [data-node-id]").count() == 3
        # Live: the slow node is seen running, then everything done, without reloading.
        node(page, "middle").and_(page.locator('[data-state="running"]')).wait_for(timeout=15000)
        assert node(page, "last").get_attribute("data-state") == "pending"
        shot(page, "running")
        # Clicked during the run: the finished node's value, fetched from the live run.
        node(page, "first").click()
        shows_detail(page, "output", "1")
        node(page, "last").click()
        shows_detail(page, "output", "(not yet)")
        client.wait(run_id)
    node(page, "last").and_(page.locator('[data-state="done"]')).wait_for(timeout=15000)
    page.locator("#progress", has_text="100%").wait_for(timeout=15000)
    # One bar per node once the last events are drawn (bars are added as events arrive).
    page.wait_for_function(
        "document.querySelectorAll('#timeline rect.bar').length === 3", timeout=15000
    )
    assert page.locator(f'#run-list li[data-run-id="{run_id}"]').count() == 1
    node(page, "last").click()
    details = page.locator("#detail-body").inner_text()
    assert "output total" in details and "20" in details
    # Its own output, and its input: the output of the node on its incoming edge.
    shows_detail(page, "output", "20")
    shows_detail(page, "input data (from middle)", "2")

    # A run started from the page itself fails; the failure shows where the node is written.
    page.fill("#run-path", "fails.yaml")
    page.click("#run-form button[type=submit]")
    failure = page.locator("#failures li", has_text=BOOM_AT)
    failure.wait_for(timeout=20000)
    assert "do not add up" in failure.inner_text()
    assert node(page, "boom").get_attribute("data-state") == "failed"
    node(page, "boom").click()
    assert BOOM_AT in page.locator("#detail-body").inner_text()
    shot(page, "failed")

    # The same run as one self-contained file, opened with the network off.
    with Client.connect(served.rpc) as client:
        failed_id = next(r.runId for r in client.runs_list(status="failed").runs)
    report = flows / "report.html"
    written = subprocess.run(
        [
            sys.executable,
            "-m",
            "atomiton",
            "runs",
            "report",
            failed_id[:13],
            "-o",
            str(report),
            "--db",
            str(db),
        ],
        cwd=flows,
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    offline = browser.new_page()
    browser.set_offline(True)
    requests: list[str] = []
    offline.on("request", lambda request: requests.append(request.url))
    offline.goto(report.as_uri())
    offline.wait_for_selector("#graph [data-node-id]")
    assert offline.locator("#graph [data-node-id]").count() == 2
    assert offline.locator("#failures li", has_text=BOOM_AT).count() == 1
    assert offline.locator("#timeline rect.bar").count() >= 2
    assert requests == [report.as_uri()]
    # The report of a past run shows node values from the history.
    node(offline, "start").click()
    shows_detail(offline, "output", "1")
    node(offline, "boom").click()
    shows_detail(offline, "input data (from start)", "1")
    shows_detail(offline, "output", "(none)")
    shot(offline, "report")
