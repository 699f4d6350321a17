"""The review app's HTTP side: a token-guarded JSON API over a results folder, and the page that uses it.

    GET  /                        the page (?token=TOKEN)
    GET  /api/films               [{"stem", "status", "cobb_major_deg", "warnings", "corrected", ...}]
    GET  /api/films/{stem}        the result document (spine-geometry/1)
    GET  /api/films/{stem}/image  the film as PNG for display
    POST /api/measure             a document -> the same document re-measured (nothing saved)
    PUT  /api/films/{stem}        a corrected document -> saved (see store.ResultsFolder.save), returned re-measured
    GET  /api/compare?earlier=A&later=B   later - earlier for every measurement, Cobb changes >= 5 deg flagged

Every request needs the token, as ``Authorization: Bearer TOKEN``, ``?token=TOKEN`` or the page's cookie (401
without, 403 wrong). Opening ``/?token=TOKEN`` trades the token for an HttpOnly, SameSite=Strict cookie and
redirects to ``/``, so the token never stays in the address bar, the history or a Referer. The page runs under a
Content-Security-Policy that allows only its own script (a nonce per response), so markup in a result cannot run.
``GET /api/films/{stem}`` sends the result file's version as an ETag; a PUT with ``If-Match`` is refused with 409
when the file changed since (another reader, an edit on disk). Bodies are cap-checked while they stream in.
"""

from __future__ import annotations

import hmac
import json
import secrets
from importlib import resources
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from pipeline.review.store import Changed, NotFound, ResultsFolder
from spine.measures import compare as diff
from spine.remeasure import measure_result
from spine.result import ResultError, from_dict, to_dict

MAX_DOCUMENT_BYTES = 20_000_000
COOKIE = "spine_review"
CSP = ("default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")


async def capped_body(request: Request, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The request body, read chunk by chunk and refused (413) as soon as it passes ``limit`` bytes, whatever the
    Content-Length says, so a huge or endless chunked body is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"document too large (over {limit} bytes)")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"document too large (over {limit} bytes)")
        parts.append(chunk)
    return b"".join(parts)


def create_app(store: ResultsFolder, token: str) -> FastAPI:
    def authorised(request: Request) -> None:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else (request.query_params.get("token") or request.cookies.get(COOKIE))
        if not given:
            raise HTTPException(401, "token required: ?token=TOKEN or Authorization: Bearer TOKEN")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(403, "wrong token")

    app = FastAPI(title="spine-measure review", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(authorised)])

    def known(stem: str) -> str:
        if stem not in {e["stem"] for e in store.listing()}:
            raise HTTPException(404, f"no film {stem!r} in this results folder")
        return stem

    async def document_of(request: Request) -> dict:
        body = await capped_body(request)
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise HTTPException(400, "the body is not valid JSON") from None
        return document

    def checked(call):
        try:
            return call()
        except ResultError as exc:
            raise HTTPException(422, f"not a valid spine-geometry/1 document: {exc}") from None
        except NotFound as exc:
            raise HTTPException(404, str(exc).strip("'\"")) from None
        except Changed as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> Response:
        if "token" in request.query_params:  # the token leaves the address bar for a cookie (a ?film= stays)
            film = request.query_params.get("film")
            response = RedirectResponse("/" + (f"?film={quote(film, safe='')}" if film else ""), status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        nonce = secrets.token_urlsafe(16)
        html = resources.files("pipeline.review").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("__NONCE__", nonce), headers={
            "Content-Security-Policy": CSP.format(nonce=nonce), "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    @app.get("/api/films")
    def films() -> list[dict]:
        return store.listing()

    @app.get("/api/films/{stem}")
    def film(stem: str) -> JSONResponse:
        document, version = checked(lambda: store.versioned_document(known(stem)))
        return JSONResponse(document, headers={"ETag": version, "Cache-Control": "no-store"})

    @app.get("/api/films/{stem}/image")
    def image(stem: str) -> Response:
        return Response(checked(lambda: store.image_png(known(stem))), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    @app.post("/api/measure")
    async def measure(request: Request) -> dict:
        document = await document_of(request)
        return checked(lambda: to_dict(measure_result(from_dict(document))))

    @app.put("/api/films/{stem}")
    async def save(stem: str, request: Request) -> JSONResponse:
        document = await document_of(request)
        saved, version = checked(lambda: store.save(known(stem), document, request.headers.get("if-match")))
        return JSONResponse(saved, headers={"ETag": version})

    @app.post("/api/films/{stem}/verify")
    async def verify(stem: str, request: Request) -> JSONResponse:
        body = await document_of(request)
        reader = " ".join(str(body.get("by", "") if isinstance(body, dict) else "").split())
        if not reader:
            raise HTTPException(422, "a verification needs the reader's name ('by')")
        saved, version, export = checked(lambda: store.verify(known(stem), body.get("document"), reader,
                                                              request.headers.get("if-match")))
        return JSONResponse({"document": saved, "export": export}, headers={"ETag": version})

    @app.get("/api/compare")
    def compare(earlier: str, later: str) -> JSONResponse:
        a, b = (checked(lambda s=s: store.document(known(s))) for s in (earlier, later))
        return JSONResponse({"earlier": earlier, "later": later, **diff(a["measurements"], b["measurements"])})

    return app
