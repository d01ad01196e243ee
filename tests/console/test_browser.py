"""The console in a real browser (Debian's chromium, driven by Playwright) against a real server
with controllers, the local provider and a gateway: sign in, create a cluster and a nodepool,
upload and deploy the echo model, watch its replica become ready, predict from the page.

Every page visited is saved as a screenshot under ``test-artifacts/console/``; the ones shown
in ``docs/console.md`` are copies (``cp test-artifacts/console/*.png docs/console/``). Outside CI a missing chromium or Playwright skips this module
with one line; under CI=true it fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import EXAMPLES, free_port, package, processes_under, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

_missing = (
    "Playwright is not installed (pip install -e '.[dev]')"
    if sync_playwright is None
    else None
    if CHROMIUM.exists()
    else "chromium is not installed (apt-get install -y chromium)"
)
if _missing:
    if IN_CI:
        pytest.fail(f"the console's browser tests need it under CI=true: {_missing}", pytrace=False)
    pytest.skip(_missing, allow_module_level=True)

pytestmark = pytest.mark.slow


@dataclass
class Stack:
    url: str
    gateway: str
    token: str
    home: Path


def _stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A server (controllers, local nodes) and a gateway; everything they started is stopped."""
    base = tmp_path_factory.mktemp("console")
    home = base / "home"
    port, gateway_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FLOTILLA_HOME": str(home),
        "FLOTILLA_PROVIDERS": '["local"]',
        "FLOTILLA_GATEWAY_PORT": str(gateway_port),
        "FLOTILLA_STOP_NODES_ON_EXIT": "true",
        "FLOTILLA_RECONCILE_INTERVAL_SECONDS": "0.5",
        "FLOTILLA_AGENT_HEARTBEAT_SECONDS": "1",
        "FLOTILLA_NODE_LOST_SECONDS": "10",
    }
    server_log = (base / "server.log").open("wb")
    gateway_log = (base / "gateway.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flotilla.cli.main",
            "server",
            "--home",
            str(home),
            "--port",
            str(port),
        ],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    gateway: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: _answers(f"{url}/healthz") and (home / "credentials").exists(), 30)
        token = tomllib.loads((home / "credentials").read_text())["token"]
        gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flotilla.cli.main",
                "gateway",
                "--port",
                str(gateway_port),
                "--server",
                url,
                "--log-level",
                "warning",
            ],
            env={**env, "FLOTILLA_TOKEN": token},
            stdout=gateway_log,
            stderr=subprocess.STDOUT,
        )
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        wait_for(lambda: _answers(f"{gateway_url}/healthz"), 30)
        yield Stack(url=url, gateway=gateway_url, token=token, home=home)
    finally:
        if gateway is not None:
            _stop(gateway)
        _stop(server)
        server_log.close()
        gateway_log.close()
        if processes_under(home):
            wait_for(lambda: not processes_under(home), timeout=20)
        assert processes_under(home) == [], "processes left behind"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, stack: Stack, token: str) -> None:
    page.goto(f"{stack.url}/console")
    expect(page).to_have_url(f"{stack.url}/console/sign-in?next=/console")
    page.get_by_label("Personal Access Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Compute", exact=True)).to_be_visible()


def test_a_user_creates_compute_deploys_echo_and_predicts_from_the_page(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    page.goto(f"{stack.url}/console")
    shot(page, "01-sign-in")
    sign_in(page, stack, stack.token)
    shot(page, "02-overview")

    page.get_by_role("link", name="Create a new cluster").click()
    page.get_by_label("Cluster ID").fill("local-1")
    page.get_by_label("Description").fill("Nodes on this machine")
    page.get_by_label("Cloud provider", exact=True).select_option("local")
    expect(page.get_by_label("Region", exact=True)).to_have_value("local")
    shot(page, "03-create-cluster")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Add a nodepool to local-1")).to_be_visible()
    page.get_by_label("Nodepool ID").fill("pool-1")
    page.get_by_label("Minimum nodes").fill("2")
    page.get_by_label("Maximum nodes").fill("1")
    page.get_by_label("local-small").check()
    page.get_by_role("switch", name="Spot instances").check()
    shot(page, "04-create-nodepool")
    page.get_by_role("button", name="Create", exact=True).click()
    error = page.locator("#min_instances-error")
    expect(error).to_have_text("min_instances (2) must not exceed max_instances (1)")
    expect(page.get_by_label("Minimum nodes")).to_have_attribute("aria-invalid", "true")
    shot(page, "05-create-nodepool-error")
    page.get_by_label("Minimum nodes").fill("0")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page.get_by_role("heading", name="Cluster local-1")).to_be_visible()
    expect(page.get_by_role("link", name="pool-1")).to_be_visible()
    shot(page, "06-cluster")

    archive = tmp_path / "echo.tar.gz"
    archive.write_bytes(package(EXAMPLES / "echo"))
    page.get_by_role("link", name="Models").click()
    page.get_by_label("Package (.tar.gz)").set_input_files(str(archive))
    expect(page.get_by_label("Model ID")).to_have_value("echo")
    shot(page, "07-models")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Model echo")).to_be_visible()
    shot(page, "08-model")

    page.get_by_role("link", name="Deploy", exact=True).first.click()
    page.get_by_label("Deployment ID").fill("echo-web")
    page.get_by_label("local-1/pool-1", exact=True).check()
    page.get_by_label("Priority of local-1/pool-1").select_option("9")
    page.get_by_label("Minimum replicas").fill("1")
    page.get_by_label("Maximum replicas").fill("2")
    shot(page, "09-deploy")
    page.get_by_role("button", name="Deploy").click()

    expect(page.get_by_role("heading", name="Deployment echo-web")).to_be_visible()
    # the page is not reloaded: its live regions follow the replica until it is ready
    expect(page.locator("#replica-summary")).to_have_text("1 of 1 replicas ready", timeout=90_000)
    expect(page.locator("#replicas")).to_contain_text("ready")

    page.get_by_label("Inputs (JSON)").fill('{"hello": "console"}')
    for _ in range(3):
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#try-result")).to_contain_text("HTTP 200")
    expect(page.locator("#try-output")).to_contain_text('"hello": "console"')
    # the gateway reports what it served; the traffic chart picks it up without a reload
    expect(
        page.locator("[data-live=traffic] polyline, [data-live=traffic] circle").first
    ).to_be_attached(timeout=20_000)
    shot(page, "10-deployment")

    page.get_by_role("link", name="local-1/pool-1").click()
    expect(page.get_by_role("heading", name="Nodepool pool-1")).to_be_visible()
    expect(page.locator("[data-live=nodes]")).to_contain_text("ready")
    shot(page, "11-nodepool")

    page.get_by_role("link", name="Deployments", exact=True).click()
    expect(page.get_by_role("link", name="echo-web")).to_be_visible()
    shot(page, "12-deployments")

    page.get_by_role("link", name="Tokens").click()
    page.get_by_role("link", name="Create a token").click()
    page.get_by_label("Token name").fill("ci-deploy")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-secret")).to_contain_text("flt_")
    shot(page, "13-tokens")
    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once

    session_row = page.locator("tr", has=page.locator(".badge", has_text="this session"))
    session_row.get_by_role("link", name=re.compile("^Delete token")).click()
    expect(page.locator("#stops")).to_contain_text("local-1")
    shot(page, "14-token-delete")

    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", name="By instance type")).to_be_visible()
    expect(page.locator("main")).to_contain_text("local-small")
    shot(page, "15-usage")

    page.get_by_role("link", name="Compute").click()
    expect(page.get_by_role("link", name="local-1")).to_be_visible()
    shot(page, "16-overview-running")


def test_another_user_sees_none_of_the_first_users_clusters(page: Page, stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.token}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as admin:
        created = admin.post(
            "/v1/compute_clusters",
            json={"id": "admins-own", "cloud_provider": "local", "region": "local"},
        )
        assert created.status_code == 201, created.text
        bob = admin.post("/v1/users", json={"id": "bob"})
        assert bob.status_code == 201, bob.text
    sign_in(page, stack, bob.json()["token"]["secret"])
    expect(page.get_by_role("link", name="shared")).to_be_visible()
    expect(page.get_by_role("link", name="admins-own")).to_have_count(0)
    page.goto(f"{stack.url}/console/clusters/admins-own")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    shot(page, "17-second-user")
