"""Browser fixtures: Debian's Chromium driven by Playwright (no browser download), for the view's tests.

`page` fails its test on any console error, uncaught exception or failed request. Without Chromium the
tests that use them skip with one line; with TRACECTL_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> str:
    if CHROMIUM is None:
        reason = "the view's browser tests need Chromium: sudo apt-get install -y chromium (.ci/run installs it)"
        if os.environ.get("TRACECTL_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " — and TRACECTL_REQUIRE_BROWSER=1 makes it required")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")  # Playwright's sync API runs an event loop: one per module, not for the session
def browser(chromium: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A page that records every console error and uncaught exception; the test fails on any."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    opened.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    yield opened
    context.close()
    assert problems == []
