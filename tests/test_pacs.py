"""pipeline.node against a real PACS: Debian's Orthanc on loopback with a temporary configuration and storage.
A film is sent to the node, the node measures it and forwards its SR, presentation state and segmentation to
Orthanc, and Orthanc's REST API shows them in the film's study with the right values. The node refuses other
SOP classes and other callers; killed with films waiting and restarted, it measures them and forwards each once."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pydicom
import pytest

pytestmark = pytest.mark.pacs
ROOT = Path(__file__).resolve().parents[1]
ORTHANC = shutil.which("Orthanc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    if ORTHANC is None:
        pytest.skip("Orthanc not installed (.ci/run installs Debian's orthanc)")
    root = tmp_path_factory.mktemp("orthanc")
    dicom_port, http_port = _free_port(), _free_port()
    config = {"Name": "test", "StorageDirectory": str(root / "db"), "IndexDirectory": str(root / "db"),
              "DicomAet": "ORTHANC", "DicomPort": dicom_port, "HttpPort": http_port, "RemoteAccessAllowed": False,
              "AuthenticationEnabled": False, "DicomCheckCalledAet": False, "Plugins": [], "HttpDescribeErrors": True}
    (root / "orthanc.json").write_text(json.dumps(config))
    process = subprocess.Popen([ORTHANC, str(root / "orthanc.json")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rest = f"http://127.0.0.1:{http_port}"

    def up():
        try:
            return urllib.request.urlopen(f"{rest}/system", timeout=1).status == 200
        except OSError:
            return False

    try:
        _wait(up, 60, "Orthanc to start")
        yield {"rest": rest, "port": dicom_port}
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(rest: str, path: str):
    with urllib.request.urlopen(f"{rest}{path}", timeout=10) as response:
        return json.loads(response.read())


def _instances(orthanc, study_uid: str) -> list[dict]:
    found = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{orthanc['rest']}/tools/find",
                data=json.dumps({"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True}).encode(),
                method="POST",
            ),
            timeout=10,
        ).read()
    )
    return [{**i, "tags": _get(orthanc["rest"], f"/instances/{i['ID']}/simplified-tags")} for i in found]


def _node(out: Path, port: int, orthanc) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "pipeline.node",
        "--aet",
        "SPINE",
        "--port",
        str(port),
        "--out",
        str(out),
        "--forward",
        f"ORTHANC@127.0.0.1:{orthanc['port']}",
        "--allow",
        "TESTSCU",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even when CI ignores SIGINT
    _wait(lambda: _echo(port), 120, "the node to answer C-ECHO")
    return process


def _association(port: int, contexts, aet: str = "TESTSCU"):
    from pynetdicom import AE

    ae = AE(ae_title=aet)
    for uid in contexts:
        ae.add_requested_context(uid)
    return ae.associate("127.0.0.1", port, ae_title="SPINE")


def _echo(port: int) -> bool:
    from pynetdicom.sop_class import Verification

    try:
        assoc = _association(port, [Verification])
    except Exception:
        return False
    if not assoc.is_established:
        return False
    status = assoc.send_c_echo()
    assoc.release()
    return getattr(status, "Status", None) == 0


def _send(port: int, paths: list[Path]) -> list[int]:
    datasets = [pydicom.dcmread(p) for p in paths]
    assoc = _association(port, {str(ds.SOPClassUID) for ds in datasets})
    assert assoc.is_established
    statuses = [assoc.send_c_store(ds).Status for ds in datasets]
    assoc.release()
    return statuses


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def test_node_measures_and_forwards_to_orthanc(orthanc, tmp_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from spine.phantom import sample_film

    film = sample_film(tmp_path / "film", "AP", seed=11)
    source = pydicom.dcmread(film)
    port, out = _free_port(), tmp_path / "node"
    node = _node(out, port, orthanc)
    try:
        assert _send(port, [film]) == [0]
        instances = _wait(
            lambda: (lambda found: found if len(found) >= 3 else None)(_instances(orthanc, source.StudyInstanceUID)),
            180,
            "three objects in Orthanc",
        )
        classes = sorted(i["tags"]["SOPClassUID"] for i in instances)
        assert classes == sorted(["1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.11.1", "1.2.840.10008.5.1.4.1.1.66.4"])
        sr_id = next(i["ID"] for i in instances if i["tags"]["SOPClassUID"].endswith(".88.33"))
        raw = urllib.request.urlopen(f"{orthanc['rest']}/instances/{sr_id}/file", timeout=10).read()
        (tmp_path / "sr.dcm").write_bytes(raw)
        sr = hd.sr.srread(tmp_path / "sr.dcm")
        result = json.loads(next((out / "results").glob("*.json")).read_text())
        groups = sr.content.get_image_measurement_groups()
        major = next(g for g in groups if "(major)" in str(g.tracking_identifier)).get_measurements(name=codes.SCT.CobbAngle)[0]
        assert float(major.value) == round(result["measurements"]["cobb"][0]["angle_deg"], 1)  # the SR states 0.1 deg
        assert all(i["tags"]["PatientID"] == source.PatientID for i in instances)
    finally:
        log = _stop(node)
    assert source.PatientName.family_name not in log and str(source.PatientID) not in log.replace("PHANTOM^", "")


def test_node_refuses_other_classes_and_callers(orthanc, tmp_path):
    from pydicom.data import get_testdata_file

    port = _free_port()
    node = _node(tmp_path / "node", port, orthanc)
    try:
        ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        assoc = _association(port, [str(ct.SOPClassUID)])
        if assoc.is_established:  # the CT context is rejected: nothing can be stored on it
            assert not assoc.accepted_contexts
            with pytest.raises(ValueError):
                assoc.send_c_store(ct)
            assoc.release()
        stranger = _association(port, ["1.2.840.10008.1.1"], aet="STRANGER")
        assert not stranger.is_established
    finally:
        _stop(node)


def test_killed_node_measures_waiting_films_after_restart_and_forwards_once(orthanc, tmp_path):
    from spine.phantom import sample_film

    films = [sample_film(tmp_path / f"f{k}", "AP", seed=20 + k) for k in range(2)]
    port, out = _free_port(), tmp_path / "node"
    node = _node(out, port, orthanc)
    assert _send(port, films) == [0, 0]
    node.kill()  # at once: the second film is still waiting, the first perhaps half measured
    node.wait()
    waiting = sorted(p.name for p in (out / "incoming").glob("*.dcm"))
    assert waiting, "the films were not on disk before they were acknowledged"
    node = _node(out, port, orthanc)
    try:
        for film in films:
            study = pydicom.dcmread(film).StudyInstanceUID
            _wait(lambda study=study: len(_instances(orthanc, study)) >= 3, 240, "the results of a film measured after the restart")
        time.sleep(3)
        for film in films:
            found = _instances(orthanc, pydicom.dcmread(film).StudyInstanceUID)
            assert len(found) == 3, [i["tags"]["SOPClassUID"] for i in found]
        assert not list((out / "incoming").glob("*.dcm")) and len(list((out / "done").glob("*.dcm"))) == 2
    finally:
        _stop(node)


def test_node_measures_a_duplicate_once_and_goes_on_measuring(orthanc, tmp_path):
    """The same instance sent three times while it waits, then a new film: the new film's results arrive (the
    measuring thread survived), the duplicate was measured and sent once, and the log names no patient or UID."""
    from spine.phantom import sample_film

    first, second = sample_film(tmp_path / "a", "AP", seed=31), sample_film(tmp_path / "b", "AP", seed=32)
    ds = pydicom.dcmread(first)
    ds.PatientName, ds.PatientID = "Roe^Richard", "PID-2718281"
    ds.save_as(first)
    secrets = ["Roe^Richard", "PID-2718281", str(ds.SOPInstanceUID), str(ds.StudyInstanceUID)]
    port, out = _free_port(), tmp_path / "node"
    node = _node(out, port, orthanc)
    try:
        assert _send(port, [first, first, first]) == [0, 0, 0]
        assert _send(port, [second]) == [0]
        for film in (first, second):
            study = pydicom.dcmread(film).StudyInstanceUID
            _wait(lambda study=study: len(_instances(orthanc, study)) >= 3, 240, "the results of each film")
        time.sleep(3)
        assert len(_instances(orthanc, str(ds.StudyInstanceUID))) == 3  # the duplicate's results sent once
        busy = subprocess.run([sys.executable, "-m", "pipeline.node", "--port", str(_free_port()), "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert busy.returncode == 2 and "another node" in busy.stderr and busy.stderr.count("\n") == 1
    finally:
        log = _stop(node)
    assert not [s for s in secrets if s in log], log[-3000:]


def test_a_verified_result_goes_back_to_the_film_s_study(orthanc, tmp_path):
    """``pipeline.export --verified-by --send``: the corrected, verified objects land in the film's study in Orthanc,
    the SR VERIFIED and FINAL with the corrected measurements (found by the study's UID, as a C-FIND would)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from pipeline.export import main as export_main
    from spine.dicomout import write_dicom_outputs
    from spine.phantom import sample_film
    from spine.remeasure import measure_result
    from spine.result import read_result, write_result

    film = sample_film(tmp_path / "film", "AP", seed=12)
    source = pydicom.dcmread(film)
    result = measure_result(read_result(film.with_suffix(".json")))
    preliminary = write_dicom_outputs(result, film, tmp_path / "preliminary", "test models")
    upper = result.spine.vertebrae[3]
    corrected = result.with_(spine=result.spine.with_(vertebrae=tuple(
        v.with_(corners=v.corners + [[0, -4], [0, 4], [0, 0], [0, 0]], edited=True) if v is upper else v
        for v in result.spine.vertebrae)))
    path = write_result(measure_result(corrected), tmp_path / "sample_ap.json")
    argv = [str(path), "--source", str(film), "--dicom-out", str(tmp_path / "out"), "--verified-by", "Reader^Ann",
            "--predecessor", str(preliminary.sr), "--send", f"ORTHANC@127.0.0.1:{orthanc['port']}"]
    assert export_main(argv) == 0
    instances = _instances(orthanc, source.StudyInstanceUID)
    verified_sr = [i for i in instances if i["tags"]["SOPClassUID"].endswith(".88.33") and i["tags"].get("VerificationFlag") == "VERIFIED"]
    assert len(verified_sr) == 1 and verified_sr[0]["tags"]["PreliminaryFlag"] == "FINAL"
    assert sum(i["tags"].get("SeriesNumber") in ("9112", "9113") for i in instances) == 2  # presentation state, segmentation
    raw = urllib.request.urlopen(f"{orthanc['rest']}/instances/{verified_sr[0]['ID']}/file", timeout=10).read()
    (tmp_path / "sr.dcm").write_bytes(raw)
    sr = hd.sr.srread(tmp_path / "sr.dcm")
    document = json.loads(path.read_text())
    groups = sr.content.get_image_measurement_groups()
    major = next(g for g in groups if "(major)" in str(g.tracking_identifier)).get_measurements(name=codes.SCT.CobbAngle)[0]
    assert float(major.value) == round(document["measurements"]["cobb"][0]["angle_deg"], 1)
    assert document["verified"]["by"] == "Reader^Ann"
