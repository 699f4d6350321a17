"""The review page as a doctor uses it, in Debian's Chromium (Playwright; skipped without it): drag a corner and see
the Cobb angle follow, verify a film, repair a chain named one level off, open a film from its address, the keys and
the view controls."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from contextlib import contextmanager

import pytest
from helpers.review import TOKEN, free_port

pytestmark = pytest.mark.browser
pytest.importorskip("fastapi")


@contextmanager
def _page(folder, errors: list | None = None):
    """A Chromium page logged in to a review server over ``folder`` (skips without Chromium); console errors go to
    ``errors``."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium here (.ci/run installs Debian's chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    import uvicorn

    from pipeline.review.app import create_app
    from pipeline.review.store import ResultsFolder

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ResultsFolder(folder), TOKEN), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-quic"])
            # bypass_csp: Playwright's wait_for_function evaluates its predicate, which the page's CSP forbids
            page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
            if errors is not None:
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
            yield page
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_doctor_drags_a_corner_sees_the_cobb_change_and_saves(client, tmp_path):
    _, folder = client
    with _page(folder) as page:
        page.click(".film[data-stem='first']")
        page.wait_for_selector("circle.corner")
        before = page.inner_text("#cobb-major")
        document = json.loads((folder / "first.json").read_text())
        upper = document["measurements"]["cobb"][0]["upper_index"]
        corner = page.locator(f"circle.corner[data-v='{upper}'][data-c='1']")
        box = corner.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y - 6, steps=3)
        page.mouse.move(x, y - 12, steps=3)
        # the panel follows the drag, before the corner is let go
        page.wait_for_function(f"document.querySelector('#cobb-major').textContent !== {json.dumps(before)}")
        page.mouse.move(x, y - 12)
        page.mouse.up()
        page.wait_for_function("!measuring")
        after = page.inner_text("#cobb-major")
        page.screenshot(path=str(tmp_path / "review.png"))
        page.click("#save")
        page.wait_for_function("document.querySelector('#status').textContent === 'saved'")
    assert after != before
    saved = json.loads((folder / "first.json").read_text())
    moved = saved["vertebrae"][upper]
    assert moved.get("edited") and moved["corners"][1][1] < document["vertebrae"][upper]["corners"][1][1] - 3
    assert (folder / "first.auto.json").exists()
    assert abs(saved["measurements"]["cobb"][0]["angle_deg"] - float(after.rstrip("\u00b0"))) < 0.06
    if os.environ.get("REVIEW_SCREENSHOT"):  # how docs/review_example.png is made
        shutil.copy(tmp_path / "review.png", os.environ["REVIEW_SCREENSHOT"])


def test_a_reader_verifies_a_film_in_the_page(client):
    """Type the reader's name, press Verify: the film is saved as checked by them, its warnings settled, and the list
    and the panel say so."""
    _, folder = client
    errors = []
    with _page(folder, errors) as page:
        page.click(".film[data-stem='second']")
        page.wait_for_selector("circle.corner")
        page.click("#verify")  # no name yet: asks for it, saves nothing
        assert "type your name" in page.inner_text("#status")
        page.fill("#reader", "Dr Reader")
        page.click("#verify")
        page.wait_for_function("document.querySelector('#status').textContent === 'verified'")
        page.wait_for_selector(".film[data-stem='second'] .b-verified")
        panel = page.inner_text("#verified-by")
    saved = json.loads((folder / "second.json").read_text())
    assert saved["verified"]["by"] == "Dr Reader" and saved["warnings"] == [] and panel.startswith("verified by Dr Reader")
    assert errors == []


def test_a_chain_named_one_off_from_the_middle_down_is_repaired_in_three_actions(client):
    """From T9 down every name one level too high (T8 twice, L5 missing): select the second T8, 'from here down: one
    lower', Save. A shift that would leave C1-S1 or name two vertebrae alike is refused with a message; undo
    restores."""
    _, folder = client
    document = json.loads((folder / "first.json").read_text())
    truth = [v["level"] for v in document["vertebrae"]]
    assert truth[:2] == ["T1", "T2"] and truth[-1] == "L5"
    for v in document["vertebrae"][8:]:
        v["level"] = truth[truth.index(v["level"]) - 1]
    (folder / "first.json").write_text(json.dumps(document))
    errors = []
    with _page(folder, errors) as page:
        page.click(".film[data-stem='first']")
        page.wait_for_selector("circle.corner")
        page.click("text.level[data-v='8']")  # action 1: the second T8
        page.click("#down-above")  # the wrong half: the first T8 and this one would both become T9
        assert "two vertebrae would be T9" in page.inner_text("#status")
        page.click("#down-below")  # action 2
        page.wait_for_function("document.querySelector('#status').textContent.includes('renamed')")
        page.click("#save")  # action 3
        page.wait_for_function("document.querySelector('#status').textContent === 'saved'")
        page.click(f"text.level[data-v='{len(truth) - 1}']")  # L5, the last: one lower is S1, again would leave the run
        page.click("#down-below")
        page.wait_for_function("document.querySelector('#status').textContent.includes('renamed')")
        page.click("#down-below")
        assert "beyond S1" in page.inner_text("#status")
        page.keyboard.press("Control+z")
        levels = page.evaluate("doc.vertebrae.map(v => v.level)")
    saved = json.loads((folder / "first.json").read_text())
    assert [v["level"] for v in saved["vertebrae"]] == truth and levels == truth
    assert errors == []


def test_a_film_opens_from_its_address_and_the_keyboard_and_view_controls_work(client):
    """``?film=STEM`` opens that film; n / p step through the list; Backspace asks before deleting; the view and the
    side a lateral film faces are set in the page and re-measure at once (a kyphosis changes sign with the side)."""
    _, folder = client
    errors = []
    with _page(folder, errors) as page:
        page.goto(page.url.split("?")[0] + f"?token={TOKEN}&film=second")
        page.wait_for_selector(".film.active[data-stem='second']")
        page.wait_for_selector("circle.corner")
        assert page.evaluate("location.search") == "?film=second"
        page.keyboard.press("p")
        page.wait_for_selector(".film.active[data-stem='first']")
        count = page.evaluate("doc.vertebrae.length")
        page.click("text.level[data-v='3']")
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.keyboard.press("Backspace")  # asked, declined: kept
        assert page.evaluate("doc.vertebrae.length") == count
        page.keyboard.press("?")
        assert page.is_visible("#help")
        page.keyboard.press("Escape")
        page.select_option("#view-select", "LAT")
        page.wait_for_function("doc.measurements.view === 'LAT' && doc.measurements.thoracic_kyphosis_deg !== undefined")
        page.select_option("#anterior-select", "left")
        page.wait_for_function("doc.measurements.anterior === 'left'")
        left = page.evaluate("doc.measurements.thoracic_kyphosis_deg")
        page.select_option("#anterior-select", "right")
        page.wait_for_function("doc.measurements.anterior === 'right'")
        right = page.evaluate("doc.measurements.thoracic_kyphosis_deg")
        assert page.is_visible("#facing-row")
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+z")
        page.wait_for_function("doc.image.view === 'AP'")
    assert left is not None and right == pytest.approx(-left, abs=1e-6) and left != 0
    assert errors == []
