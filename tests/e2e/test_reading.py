"""Read the patient, in a real browser (issue 15): a learner has a visit of two turns with the stub LLM, ends
it, says in the form what they think the patient felt, how she rated the alliance and what she was about to
do, submits, and sees the comparison with her hidden state in the debrief. Nothing of the debrief shows
before the answer. Every wait is on the page's events, bounded; no sleep.

Run with `pytest -m e2e tests/e2e/test_reading.py`; needs `/usr/bin/chromium` (`make browser` installs it).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest

from agent.devtools.loadtest import Served, running, serve_chainlit, serve_stub, stub_env
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS

pytestmark = pytest.mark.e2e

LINES = [
    "Hello Ms. Miller, I'm the new physician taking over from Dr. Hanlon. How have you been?",
    "I'm not renewing the oxycodone, and that's final.",
]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (the e2e target does)")
    work = tmp_path_factory.mktemp("e2e-reading")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with running(serve_stub(work / "stub.log")) as stub:
        env = stub_env(stub, work / "data")
        with running(serve_chainlit("agent/web/app.py", env, SHOTS / "reading-app.log")) as app:
            yield app


@pytest.fixture
async def page(app_server: Served) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
        tab = await context.new_page()
        await tab.goto(app_server.url)
        await tab.wait_for_selector("#chat-input", timeout=90_000)
        yield tab
        await browser.close()


async def _send(page: object, text: str) -> None:
    """Send a learner line and wait until the patient's reply has ended (its "Try again from here" appeared)."""
    from playwright.async_api import Page

    assert isinstance(page, Page)
    ended_before = await page.get_by_role("button", name=re.compile("Try again from here")).count()
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")
    await page.get_by_text(text, exact=True).first.wait_for(timeout=30_000)
    await page.wait_for_function(
        "(n) => [...document.querySelectorAll('button')].filter("
        "b => b.innerText.includes('Try again from here')).length > n",
        arg=ended_before,
        timeout=90_000,
    )


async def test_a_learner_reads_the_patient_at_the_debrief_and_sees_the_comparison(page: object) -> None:
    from playwright.async_api import Page, expect

    assert isinstance(page, Page)
    await expect(page.get_by_text("Case brief:").first).to_be_visible(timeout=60_000)
    for line in LINES:
        await _send(page, line)

    # End the visit: first the form, and nothing of the debrief yet.
    await page.get_by_role("button", name="End the visit").last.click()
    form = page.get_by_test_id("patient-reading")
    await expect(form).to_be_visible(timeout=60_000)
    await expect(form).to_contain_text("Read the patient")
    assert "Alliance trajectory" not in await page.inner_text("body")

    # Two emotions, the alliance, the move; a fourth emotion is refused by the form itself.
    boxes = form.get_by_role("checkbox")
    said = [await boxes.nth(i).locator("xpath=..").inner_text() for i in range(2)]
    for i in range(2):
        await boxes.nth(i).check()
    scales = form.locator("select")
    await expect(scales).to_have_count(3)
    for i, value in enumerate(("3", "2", "5")):
        await scales.nth(i).select_option(value)
    await form.get_by_role("radio", name="Withdrawal").check()
    await page.screenshot(path=str(SHOTS / "reading-1-form.png"))
    await form.get_by_role("button", name="Submit my reading").click()
    await expect(form.get_by_role("status")).to_have_text("Noted.", timeout=60_000)

    # The debrief, with the comparison side by side.
    section = page.get_by_role("heading", name="Read the patient")
    await expect(section).to_be_visible(timeout=60_000)
    table = page.locator("table", has=page.get_by_text("What the patient felt"))
    await expect(table).to_be_visible(timeout=30_000)
    await expect(table).to_contain_text("What you said")
    await expect(table.get_by_role("row").filter(has_text="Emotions")).to_contain_text(
        ", ".join(s.strip() for s in said)
    )
    await expect(table.get_by_role("row").filter(has_text="Alliance")).to_contain_text("Goals 3 · Tasks 2 · Bond 5")
    await expect(table.get_by_role("row").filter(has_text="Move")).to_contain_text("Withdrawal")
    await expect(page.get_by_text(re.compile(r"Turn \d+, at the debrief: score \d+"))).to_be_visible()
    await page.get_by_role("heading", name="Read the patient").scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "reading-2-comparison.png"))
