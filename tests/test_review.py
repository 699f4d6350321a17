"""The review app: every API route, the token, traversal attempts, invalid documents, atomic saves with the
automatic result kept and edits flagged; and (when Chromium is here) a doctor's drag-measure-save in a browser."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest

pytest.importorskip("fastapi")

from spine.phantom import sample_film  # noqa: E402

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder: a phantom measured from its true geometry (a stand-in for a pipeline.infer result), a
    film that failed, and a second phantom of the same patient to compare."""
    from spine.remeasure import measure_result
    from spine.result import read_result, write_result
    from spine.summary import FIELDS, Summary, other_row, result_row

    root = tmp_path_factory.mktemp("review")
    films, out = root / "films", root / "out"
    out.mkdir()
    with Summary(out, FIELDS) as summary:
        for name, seed in (("first", 3), ("second", 4)):
            film = sample_film(films / name, "AP", seed=seed)
            result = measure_result(read_result(film.with_suffix(".json")))
            result = result.with_(image=result.image.__class__(**{**result.image.__dict__, "path": str(film)}))
            write_result(result, out / f"{name}.json")
            summary.write(result_row(film, result, name))
        broken = films / "broken.dcm"
        shutil.copy(films / "first" / "sample_ap.dcm", broken)
        summary.write(other_row(broken, "error", f"{broken}: failed (no spine)", "broken"))
    return out


@pytest.fixture()
def client(results, tmp_path):
    from fastapi.testclient import TestClient

    from pipeline.review.app import create_app
    from pipeline.review.store import ResultsFolder

    folder = tmp_path / "out"
    shutil.copytree(results, folder)
    return TestClient(create_app(ResultsFolder(folder), TOKEN)), folder


def auth(**extra):
    return {"headers": {"Authorization": f"Bearer {TOKEN}"}, **extra}


def test_every_route_needs_the_token(client):
    c, _ = client
    for method, path in (("get", "/"), ("get", "/api/films"), ("get", "/api/films/first"), ("get", "/api/films/first/image"),
                         ("post", "/api/measure"), ("put", "/api/films/first"), ("get", "/api/compare?earlier=first&later=second")):
        assert getattr(c, method)(path).status_code == 401
        assert getattr(c, method)(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert c.get(f"/?token={TOKEN}").status_code == 200 and "<svg" in c.get(f"/?token={TOKEN}").text


def test_film_list_holds_results_and_failures(client):
    c, _ = client
    films = {f["stem"]: f for f in c.get("/api/films", **auth()).json()}
    assert set(films) == {"first", "second", "broken"}
    assert films["first"]["status"] == "ok" and films["first"]["cobb_major_deg"] > 10 and not films["first"]["corrected"]
    assert films["broken"]["status"] == "error" and "no spine" in films["broken"]["error"]


def test_document_and_image(client):
    c, _ = client
    document = c.get("/api/films/first", **auth()).json()
    assert document["schema"] == "spine-geometry/1" and len(document["vertebrae"]) == 17
    image = c.get(f"/api/films/first/image?token={TOKEN}")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    failed = c.get("/api/films/broken", **auth()).json()  # a film with no result: an empty document to place vertebrae in
    assert failed["vertebrae"] == [] and failed["image"]["width"] > 0


@pytest.mark.parametrize("stem", ["..%2Fout", "..", "%2Fetc%2Fpasswd", "first.json", "nothing"])
def test_nothing_outside_the_folder_is_served(client, stem):
    c, _ = client
    assert c.get(f"/api/films/{stem}", **auth()).status_code == 404
    assert c.get(f"/api/films/{stem}/image", **auth()).status_code == 404
    assert c.put(f"/api/films/{stem}", content=b"{}", **auth()).status_code == 404


def test_measure_re_measures_without_saving(client):
    c, folder = client
    before = (folder / "first.json").read_bytes()
    document = c.get("/api/films/first", **auth()).json()
    upper = document["measurements"]["cobb"][0]["upper_index"]
    document["vertebrae"][upper]["corners"][0][1] += 25.0
    measured = c.post("/api/measure", content=json.dumps(document), **auth()).json()
    assert measured["measurements"]["cobb"][0]["angle_deg"] != document["measurements"]["cobb"][0]["angle_deg"]
    assert (folder / "first.json").read_bytes() == before


@pytest.mark.parametrize("body,code", [(b"{not json", 400), (b"[1]", 422), (b'{"schema": "other"}', 422)])
def test_invalid_documents_get_4xx_and_leave_the_file(client, body, code):
    c, folder = client
    before = (folder / "first.json").read_bytes()
    assert c.put("/api/films/first", content=body, **auth()).status_code == code
    assert c.post("/api/measure", content=body, **auth()).status_code == code
    assert (folder / "first.json").read_bytes() == before and not (folder / "first.auto.json").exists()


def test_bad_corners_are_refused(client):
    c, _ = client
    document = c.get("/api/films/first", **auth()).json()
    document["vertebrae"][3]["corners"] = [[1, 2], [3, 4]]
    response = c.put("/api/films/first", content=json.dumps(document), **auth())
    assert response.status_code == 422 and "vertebra 4" in response.json()["detail"]


def test_save_keeps_the_automatic_result_flags_edits_and_re_renders(client):
    c, folder = client
    auto = (folder / "first.json").read_bytes()
    document = c.get("/api/films/first", **auth()).json()
    document["vertebrae"][2]["corners"][1][0] += 6.0
    document["vertebrae"][5]["level"] = "T13"
    saved = c.put("/api/films/first", content=json.dumps(document), **auth()).json()
    assert (folder / "first.auto.json").read_bytes() == auto
    on_disk = json.loads((folder / "first.json").read_text())
    assert on_disk == saved
    edited = [k for k, v in enumerate(on_disk["vertebrae"]) if v.get("edited")]
    assert len(edited) == 2 and on_disk["vertebrae"][edited[0]]["corners"][1][0] == document["vertebrae"][2]["corners"][1][0]
    assert (folder / "first_overlay.png").exists() and not list(folder.glob(".*.tmp"))
    rows = (folder / "summary.csv").read_text().splitlines()
    assert len(rows) == 4 and sum(",first," in r for r in rows) == 1
    document = c.get("/api/films/first", **auth()).json()  # a second save keeps the first automatic result
    c.put("/api/films/first", content=json.dumps(document), **auth())
    assert (folder / "first.auto.json").read_bytes() == auto
    assert {f["stem"]: f for f in c.get("/api/films", **auth()).json()}["first"]["corrected"]


def test_verify_saves_who_and_when_settles_the_warnings_and_an_edit_unverifies(client):
    c, folder = client
    document = c.get("/api/films/first", **auth()).json()
    document["vertebrae"][2]["corners"][1][0] += 4.0
    document["warnings"].append("level names uncertain: check T12-L1")
    refused = c.post("/api/films/first/verify", content=json.dumps({"by": " ", "document": document}), **auth())
    assert refused.status_code == 422 and not json.loads((folder / "first.json").read_text()).get("verified")
    answer = c.post("/api/films/first/verify", content=json.dumps({"by": "Dr Reader", "document": document}), **auth()).json()
    on_disk = json.loads((folder / "first.json").read_text())
    assert on_disk == answer["document"] and on_disk["verified"]["by"] == "Dr Reader" and on_disk["warnings"] == []
    assert "level names uncertain: check T12-L1" in [r["warning"] for r in on_disk["resolved_warnings"]]
    assert answer["export"] == {"written": [], "sent": None, "error": None}  # no --dicom-out: nothing to write
    assert {f["stem"]: f for f in c.get("/api/films", **auth()).json()}["first"]["verified"]["by"] == "Dr Reader"
    on_disk["vertebrae"][3]["corners"][0][0] += 3.0  # corrected again after the check: no longer verified
    saved = c.put("/api/films/first", content=json.dumps(on_disk), **auth()).json()
    assert "verified" not in saved and "level names uncertain: check T12-L1" not in saved["warnings"]


def test_a_verified_dicom_film_goes_out_beside_its_preliminary_objects(client, tmp_path):
    from fastapi.testclient import TestClient

    from pipeline.review.app import create_app
    from pipeline.review.store import Exporter, ResultsFolder
    from spine.dicomout import write_dicom_outputs
    from spine.result import read_result

    _, folder = client
    film = Path(read_result(folder / "first.json").image.path)
    preliminary = write_dicom_outputs(read_result(folder / "first.json"), film, tmp_path / "dicom" / "first", "m")
    c = TestClient(create_app(ResultsFolder(folder, exporter=Exporter(tmp_path / "dicom")), TOKEN))
    document = c.get("/api/films/first", **auth()).json()
    export = c.post("/api/films/first/verify", content=json.dumps({"by": "Reader^Ann", "document": document}), **auth()).json()["export"]
    assert export["error"] is None and export["sent"] is None and len(export["written"]) == 3
    sr = pydicom.dcmread(tmp_path / "dicom" / "first" / next(n for n in export["written"] if n.endswith("_sr.dcm")))
    assert sr.VerificationFlag == "VERIFIED" and sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0] \
        .ReferencedSOPSequence[0].ReferencedSOPInstanceUID == pydicom.dcmread(preliminary.sr).SOPInstanceUID


def test_a_failed_film_can_be_measured_by_hand(client, results):
    c, folder = client
    truth = json.loads((results / "first.json").read_text())
    document = c.get("/api/films/broken", **auth()).json()
    document["vertebrae"] = [{k: v[k] for k in ("level", "box", "corners")} for v in truth["vertebrae"][:6]]
    saved = c.put("/api/films/broken", content=json.dumps(document), **auth()).json()
    assert len(saved["vertebrae"]) == 6 and saved["measurements"]["per_vertebra"]
    assert (folder / "broken.json").exists() and not (folder / "broken.auto.json").exists()


def test_compare_flags_changes_of_5_degrees(client):
    c, _ = client
    diff = c.get("/api/compare?earlier=first&later=second", **auth()).json()
    assert "cobb.major.angle_deg" in diff["differences"]
    change = diff["differences"]["cobb.major.angle_deg"]["change"]
    assert (abs(change) >= 5) == any("cobb.major" in f for f in diff["flags"])
    assert c.get("/api/compare?earlier=first&later=../x", **auth()).status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    port = _free_port()
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


@pytest.mark.browser
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


def test_the_list_tells_uncertain_from_disputed_names(client):
    """A film whose names the identifier was unsure of, and one whose names only the count disputes, are listed
    apart (the page shows each its own badge)."""
    from spine.result import LEVELS_DISPUTED, LEVELS_UNCERTAIN, read_result, write_result

    c, folder = client
    for stem, warning in (("first", f"{LEVELS_UNCERTAIN}: close call"), ("second", f"{LEVELS_DISPUTED}: counted otherwise")):
        result = read_result(folder / f"{stem}.json")
        write_result(result.with_(warnings=(*result.warnings, warning)), folder / f"{stem}.json")
    films = {f["stem"]: f for f in c.get("/api/films", **auth()).json()}
    assert films["first"]["levels_uncertain"] and not films["first"]["levels_disputed"]
    assert films["second"]["levels_disputed"] and not films["second"]["levels_uncertain"]
    assert 'badge("b-disputed"' in c.get(f"/?token={TOKEN}").text


@pytest.mark.browser
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


@pytest.mark.browser
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


@pytest.mark.browser
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
