"""The biller console: static pages (HTML, CSS, JavaScript; no build step, no third-party code) served by
the gateway and built only on its public /v1 API, so it sees exactly what the signed-in user's scope allows.

Every console response carries a strict Content-Security-Policy (scripts and styles from this origin only,
no inline script, no framing) and is never cached. Console URLs carry item ids and trace numbers only, never
patient names, member ids, birth dates or claim numbers."""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

ASSETS = Path(__file__).with_name("console")
FILES = {"console.js": "text/javascript", "console.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console")
async def console_slash() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/")
async def console_page() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/console/{name}")
async def console_asset(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, "no such console file")
    return FileResponse(ASSETS / name, media_type=FILES[name], headers=SECURITY_HEADERS)
