"""The console in a real browser: Debian's Chromium driven by Python Playwright (no browser
download: Playwright is only the driver, pointed at /usr/bin/chromium), against the session's real
stack through the one-origin gateway. The console is built from the current sources first
(`make web`: npm ci when the lock changed, npm run build when a source changed)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kam_shared.demo import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from kam_shared.settings import REPO_ROOT

CHROMIUM = Path(os.environ.get("KAM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WEB = REPO_ROOT / "web"
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
# The browser tests' own users (see the `org` fixture here).
REP, MANAGER, PEER = "rep@console.test", "manager@console.test", "peer@console.test"
PASSWORD = "lamp-tiger-7"
# Generous: the machine may be shared and busy (API reads through the gateway, first paint).
UI_TIMEOUT_MS = 45_000


def _ensure_chromium() -> Path | None:
    """/usr/bin/chromium, installed with apt-get when missing and we may (root), like testpg does for PostgreSQL."""
    if CHROMIUM.exists():
        return CHROMIUM
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, check=False, capture_output=True)
    return CHROMIUM if CHROMIUM.exists() else None


def _build_console() -> None:
    """web/dist from the current sources: `make web` rebuilds only what changed."""
    if shutil.which("make"):
        subprocess.run(["make", "-s", "web"], cwd=REPO_ROOT, check=True)
        return
    if not (WEB / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run(["npm", "run", "build"], cwd=WEB, check=True)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    path = _ensure_chromium()
    if path is None:
        pytest.skip(f"no Chromium at {CHROMIUM} and it could not be installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def console(chromium_path, gateway) -> str:
    """The gateway's URL, once the console it serves is built from the current sources."""
    _build_console()
    assert (WEB / "dist" / "index.html").exists()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return gateway


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Per module, not per session: while Playwright's sync API runs, its event loop is the running
    loop of this thread, and every later test's asyncio.run() would fail."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # assertions wait as long as actions (a busy machine)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, console):
    """Opens a fresh browser context (its own session storage: one signed-in user) per call."""
    contexts = []

    def open_page(lang: str | None = None):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=console)
        context.set_default_timeout(UI_TIMEOUT_MS)
        if lang:  # the console keeps the chosen language in localStorage
            context.add_init_script(f"localStorage.setItem('kam.lang', {json.dumps(lang)})")
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.page_errors = errors  # a test may assert the page threw nothing
        # The API calls each page made, printed at the end (pytest shows them when a test fails).
        started = time.monotonic()
        page.on("requestfinished", lambda r: network.append(
            f"{time.monotonic() - started:7.2f}s {r.method} {r.url} -> {r.response().status if r.response() else '?'}"))
        page.on("requestfailed", lambda r: network.append(
            f"{time.monotonic() - started:7.2f}s {r.method} {r.url} FAILED {r.failure}"))
        return page

    network: list[str] = []
    yield open_page
    print("\n".join(line for line in network if "/v1/" in line))
    for c in contexts:
        c.close()


@pytest.fixture(scope="module")
def org(stack):
    """The browser tests' own small organisation (a manager with two reps), not the session's `org`:
    their opportunities must not move the figures the other cross-service tests expect."""
    from kam_shared.testing import StackClient

    api = StackClient(stack)
    admin = api.token(DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)

    def user(email, role, superior=None):
        resp = api.call("POST", "team-svc", "/v1/users", admin, json={
            "email": email, "name": email.split("@")[0], "role": role, "password": PASSWORD,
            **({"superior_id": superior} if superior else {})})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    manager = user(MANAGER, "manager")
    rep, peer = user(REP, "rep", manager), user(PEER, "rep", manager)
    return api, {"admin": admin, "manager": api.token(MANAGER, PASSWORD), "rep": api.token(REP, PASSWORD),
                 "peer": api.token(PEER, PASSWORD)}, {"manager": manager, "rep": rep, "peer": peer}


def sign_in(page, email: str, password: str = PASSWORD, path: str = "/") -> None:
    """Signs in through the form (zh-CN labels, the default language) and waits for the shell."""
    page.goto(path)
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_test_id("current-user").wait_for()


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]
