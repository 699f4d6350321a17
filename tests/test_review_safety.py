"""The review server keeps what readers wrote and leaks nothing (issue 35): a save over a changed file is refused
(409), the film is never named by a request's path, markup in a result never runs in the page, the token leaves the
address bar, and a body is refused while it streams in."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

pytest.importorskip("fastapi")

from helpers.review import TOKEN, auth, free_port  # noqa: E402  (and the shared fixtures: results, client)


def test_a_save_over_a_file_changed_since_loading_is_refused_with_409(client):  # noqa: F811
    c, folder = client
    loaded = c.get("/api/films/first", **auth())
    version, document = loaded.headers["etag"], loaded.json()
    on_disk = json.loads((folder / "first.json").read_text())
    on_disk["vertebrae"][3]["corners"][0][0] += 9.0  # another reader's edit, made on disk meanwhile
    (folder / "first.json").write_text(json.dumps(on_disk))
    before = (folder / "first.json").read_bytes()
    document["vertebrae"][5]["corners"][0][1] += 4.0
    refused = c.put("/api/films/first", content=json.dumps(document), headers={"Authorization": f"Bearer {TOKEN}", "If-Match": version})
    assert refused.status_code == 409 and "changed since it was loaded" in refused.json()["detail"]
    assert (folder / "first.json").read_bytes() == before and not (folder / "first.auto.json").exists()
    fresh = c.get("/api/films/first", **auth())
    saved = c.put("/api/films/first", content=json.dumps(fresh.json()), headers={"Authorization": f"Bearer {TOKEN}",
                                                                                "If-Match": fresh.headers["etag"]})
    assert saved.status_code == 200 and saved.headers["etag"] != fresh.headers["etag"]


def test_a_hand_edited_result_is_not_taken_as_the_automatic_baseline(client):  # noqa: F811
    c, folder = client
    edited = json.loads((folder / "first.json").read_text())
    edited["vertebrae"][2]["edited"] = True
    (folder / "first.json").write_text(json.dumps(edited))
    assert c.put("/api/films/first", content=json.dumps(edited), **auth()).status_code == 200
    assert not (folder / "first.auto.json").exists()


def test_a_put_naming_another_file_never_reads_it(client, tmp_path):  # noqa: F811
    c, folder = client
    other = tmp_path / "other_patient.dcm"
    shutil.copy(json.loads((folder / "second.json").read_text())["image"]["path"], other)
    recorded = json.loads((folder / "first.json").read_text())["image"]["path"]
    document = c.get("/api/films/first", **auth()).json()
    document["image"]["path"] = str(other)
    saved = c.put("/api/films/first", content=json.dumps(document), **auth()).json()
    assert saved["image"]["path"] == recorded
    assert json.loads((folder / "first.json").read_text())["image"]["path"] == recorded
    first_png = c.get("/api/films/first/image", **auth()).content
    second_png = c.get("/api/films/second/image", **auth()).content
    assert first_png != second_png  # still the first film, not the file the request named


def test_the_page_trades_the_token_for_a_cookie_and_allows_only_its_own_script(client):  # noqa: F811
    c, _ = client
    opened = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = c.get("/")  # the cookie alone opens the page and the API
    policy = page.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert page.status_code == 200 and f'<script nonce="{nonce}">' in page.text and "unsafe-inline" not in policy.split("style-src")[0]
    assert "token" not in page.text.split("<script")[1].lower().split("</script>")[0].replace("csrf", "")
    assert c.get("/api/films").status_code == 200


def test_a_body_is_refused_while_it_streams_in(client, monkeypatch):  # noqa: F811
    import pipeline.review.app as app

    c, folder = client
    monkeypatch.setattr(app.capped_body, "__defaults__", (1000,))
    sent = []

    def chunks():  # a chunked body with no Content-Length: the server must stop it, not buffer it
        for _ in range(1000):
            sent.append(1)
            yield b" " * 100

    before = (folder / "first.json").read_bytes()
    response = c.put("/api/films/first", content=chunks(), **auth())
    assert response.status_code == 413 and (folder / "first.json").read_bytes() == before


@pytest.mark.browser
def test_markup_in_a_result_never_runs_in_the_page(client):  # noqa: F811
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium here (.ci/run installs Debian's chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    import uvicorn

    from pipeline.review.app import create_app
    from pipeline.review.store import ResultsFolder

    _, folder = client
    hostile = json.loads((folder / "first.json").read_text())
    payload = '<img src=x onerror="window.__pwned=1">'
    hostile["measurements"]["units"] = payload
    hostile["measurements"]["cobb"][0]["region"] = payload
    hostile["warnings"].append(payload)
    (folder / "first.json").write_text(json.dumps(hostile))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ResultsFolder(folder), TOKEN), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
            address = page.url
            page.click(".film[data-stem='first']")
            page.wait_for_selector("circle.corner")
            page.wait_for_timeout(300)
            pwned = page.evaluate("window.__pwned === 1")
            shown = page.inner_text("#measurements")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not pwned and payload in shown  # shown as text, never run
    assert TOKEN not in address and not errors
