"""The review app's HTTP side: a token-guarded JSON API over a results folder, and the page that uses it.

    GET  /                        the page (?token=TOKEN)
    GET  /api/films               [{"stem", "status", "cobb_major_deg", "warnings", "corrected", ...}]
    GET  /api/films/{stem}        the result document (spine-geometry/1)
    GET  /api/films/{stem}/image  the film as PNG for display
    POST /api/measure             a document -> the same document re-measured (nothing saved)
    PUT  /api/films/{stem}        a corrected document -> saved (see store.ResultsFolder.save), returned re-measured
    GET  /api/compare?earlier=A&later=B   later - earlier for every measurement, Cobb changes >= 5 deg flagged

Every request needs the token, as ``Authorization: Bearer TOKEN`` or ``?token=TOKEN`` (401 without, 403 wrong).
"""

from __future__ import annotations

import hmac
import json
from importlib import resources

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from pipeline.review.store import NotFound, ResultsFolder

MAX_DOCUMENT_BYTES = 20_000_000


def create_app(store: ResultsFolder, token: str) -> FastAPI:
    def authorised(request: Request) -> None:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token")
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
        body = await request.body()
        if len(body) > MAX_DOCUMENT_BYTES:
            raise HTTPException(413, "document too large")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise HTTPException(400, "the body is not valid JSON") from None
        return document

    def checked(call):
        from pipeline.lib.result import ResultError

        try:
            return call()
        except ResultError as exc:
            raise HTTPException(422, f"not a valid spine-geometry/1 document: {exc}") from None
        except NotFound as exc:
            raise HTTPException(404, str(exc).strip("'\"")) from None

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return resources.files("pipeline.review").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/api/films")
    def films() -> list[dict]:
        return store.listing()

    @app.get("/api/films/{stem}")
    def film(stem: str) -> dict:
        return checked(lambda: store.document(known(stem)))

    @app.get("/api/films/{stem}/image")
    def image(stem: str) -> Response:
        return Response(checked(lambda: store.image_png(known(stem))), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    @app.post("/api/measure")
    async def measure(request: Request) -> dict:
        from pipeline.lib.result import from_dict, to_dict
        from pipeline.measure import measure_result

        document = await document_of(request)
        return checked(lambda: to_dict(measure_result(from_dict(document))))

    @app.put("/api/films/{stem}")
    async def save(stem: str, request: Request) -> dict:
        document = await document_of(request)
        return checked(lambda: store.save(known(stem), document))

    @app.get("/api/compare")
    def compare(earlier: str, later: str) -> JSONResponse:
        from pipeline.lib.measures import compare as diff

        a, b = (checked(lambda s=s: store.document(known(s))) for s in (earlier, later))
        return JSONResponse({"earlier": earlier, "later": later, **diff(a["measurements"], b["measurements"])})

    return app
