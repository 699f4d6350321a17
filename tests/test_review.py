"""The review app: every API route, the token, traversal attempts, invalid documents, atomic saves with the
automatic result kept and edits flagged, verifying and its DICOM export (the page in a browser: test_review_browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

pytest.importorskip("fastapi")


from helpers.review import TOKEN, auth  # noqa: E402  (and its fixtures: results, client)


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
