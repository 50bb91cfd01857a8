"""
Annotation server
=================

Define the local web server of ``ccharmony annotate``:

-   :func:`create_app`: the Starlette application (JSON API, tiles, static
    assets) around a :class:`~ccharmony.annotate.session.Session`.
-   :class:`AnnotateServer`: the application under uvicorn, bound to
    127.0.0.1 only, with a random token; :meth:`AnnotateServer.url` is what
    the user opens.
-   :class:`Guard`: the ASGI middleware every request passes first.

Framework: Starlette on uvicorn. Starlette is a small, typed ASGI toolkit kept
by the Encode team (also behind httpx and uvicorn; FastAPI is built on it)
with no dependencies of its own beyond anyio; uvicorn accepts an
already-bound socket, so the server binds ``127.0.0.1`` itself and can take
port 0 (a free port) in tests. Flask + waitress would do as well; Starlette
was chosen because its plain-function routes run in a thread pool (GrabCut and
decoding are CPU-bound and release the GIL in OpenCV / LibRaw), and its whole
runtime is two small wheels installable offline.

Security, because other users of the machine can reach a loopback port:

-   the socket is bound to ``127.0.0.1``;
-   every request (page, static assets, API, tiles) must carry the token
    (:func:`secrets.token_urlsafe`, 192 bits) as ``?token=`` or in the
    ``X-CCHarmony-Token`` header, compared in constant time; without it: 403;
-   the ``Host`` header must be ``127.0.0.1:<port>`` or ``localhost:<port>``
    (a page on another site that rebinds its DNS name to 127.0.0.1 sends its
    own name): otherwise 403;
-   no request names a file: photos are addressed by their name in the raw
    folder's index, foregrounds by a validated letter, and every path goes
    through :func:`ccharmony.annotate.store.confined_path` (resolve, check
    containment, refuse symbolic links);
-   answers carry ``Content-Security-Policy: default-src 'self'`` (no CDN:
    every asset ships in ``ccharmony/annotate/static/``),
    ``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY``.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ccharmony.annotate.session import Session
from ccharmony.annotate.store import AnnotateError, ConflictError, NotFoundError, PathRefusedError
from ccharmony.errors import CCHarmonyError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["TOKEN_HEADER", "Guard", "create_app", "AnnotateServer"]

LOGGER = logging.getLogger(__name__)

TOKEN_HEADER = "X-CCHarmony-Token"
"""Header that may carry the token instead of the ``token`` query parameter."""

_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}

_SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
     b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
]

ASGIApp = Callable[..., Awaitable[None]]


class Guard:
    """
    Refuse requests without the token or with a foreign ``Host`` header (ASGI middleware).

    Parameters
    ----------
    app
        The ASGI application behind it.
    token
        The session token.
    hosts
        Accepted ``Host`` header values (``127.0.0.1:<port>``, ``localhost:<port>``);
        a set the server fills once its port is known.
    """

    def __init__(self, app: ASGIApp, token: str, hosts: set[str]) -> None:
        self.app = app
        self.token = token.encode()
        self.hosts = hosts

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host not in self.hosts:
            await _refuse(send, f"foreign Host header {host[:80]!r}: open the URL ccharmony annotate printed")
            return
        given = headers.get(TOKEN_HEADER.lower().encode(), b"")
        if not given:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0].encode("latin-1", errors="replace")
        if not secrets.compare_digest(given, self.token):
            await _refuse(send, "missing or wrong token: open the URL ccharmony annotate printed")
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + _SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send: Any, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *_SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def _static_files() -> dict[str, bytes]:
    folder = resources.files("ccharmony.annotate") / "static"
    return {entry.name: entry.read_bytes() for entry in folder.iterdir()
            if entry.is_file() and not entry.name.startswith(".")}


def _error_response(error: Exception) -> JSONResponse:
    status = 400
    extra: dict[str, Any] = {}
    if isinstance(error, ConflictError):
        status = 409
        extra["file"] = error.relative
    elif isinstance(error, PathRefusedError):
        status = 403
    elif isinstance(error, NotFoundError):
        status = 404
    return JSONResponse({"error": str(error), **extra}, status_code=status)


def create_app(session: Session, token: str, hosts: set[str]) -> Guard:
    """
    Return the guarded ASGI application of a session.

    Parameters
    ----------
    session
        The annotation session.
    token
        The token every request must carry.
    hosts
        Accepted ``Host`` headers (see :class:`Guard`).

    Returns
    -------
    Guard
        The Starlette application behind the guard.
    """
    static = _static_files()

    def asset(name: str, *, page: bool = False) -> Response:
        data = static.get(name)
        if data is None:
            return JSONResponse({"error": f"no asset {name!r}"}, status_code=404)
        if page:
            data = data.replace(b"{{TOKEN}}", token.encode())
        suffix = "." + name.rsplit(".", 1)[-1]
        return Response(data, media_type=_CONTENT_TYPES.get(suffix, "application/octet-stream"),
                        headers={"cache-control": "no-store"})

    async def index(request: Request) -> Response:
        return asset("index.html", page=True)

    async def static_file(request: Request) -> Response:
        return asset(request.path_params["name"])

    def api(function: Callable[..., Any], *, body: bool = False, raw: str | None = None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            arguments: dict[str, Any] = dict(request.path_params)
            try:
                if body:
                    try:
                        payload = await request.json()
                    except ValueError:
                        raise AnnotateError("the request body must be JSON") from None
                    if not isinstance(payload, dict):
                        raise AnnotateError("the request body must be a JSON object")
                    arguments["payload"] = payload
                started = time.perf_counter()
                result = await run_in_threadpool(function, **arguments)
                elapsed = time.perf_counter() - started
            except CCHarmonyError as error:
                return _error_response(error)
            if raw is not None:
                if result is None:
                    return JSONResponse({"error": "not ready"}, status_code=404)
                return Response(result, media_type=raw, headers={"cache-control": "private, max-age=3600"})
            return JSONResponse(result, headers={"cache-control": "no-store",
                                                 "server-timing": f"app;dur={elapsed * 1000:.1f}"})
        return endpoint

    def version_of(payload: dict[str, Any]) -> Any:
        return payload["version"] if "version" in payload else True

    def listing() -> Any:
        return session.listing()

    def detail(name: str) -> Any:
        result = session.detail(name)
        session.prefetch(name)
        return result

    def overview(name: str) -> bytes:
        return session.overview(name)

    def thumbnail(name: str) -> bytes | None:
        return session.thumbnail(name)

    def tile(name: str, level: str, column: str, row: str) -> bytes:
        try:
            numbers = int(level), int(column), int(row)
        except ValueError:
            raise NotFoundError(f"tile {level}/{column}/{row}: not numbers") from None
        return session.tile(name, *numbers)

    def chart(name: str, payload: dict[str, Any]) -> Any:
        return session.set_corners(name, payload.get("corners"), version_of(payload))

    def chart_reset(name: str, payload: dict[str, Any]) -> Any:
        return session.reset_corners(name, version_of(payload))

    def chart_place(name: str) -> Any:
        return session.place_chart(name)

    def split(name: str, payload: dict[str, Any]) -> Any:
        return session.set_split(name, payload.get("split"))

    def new_foreground(name: str) -> Any:
        return session.new_foreground(name)

    def propose(name: str, fg: str, payload: dict[str, Any]) -> Any:
        return session.propose_box(name, fg, payload.get("box"))

    def accept(name: str, fg: str, payload: dict[str, Any]) -> Any:
        return session.accept(name, fg, version_of(payload))

    def reject(name: str, fg: str) -> Any:
        return session.reject(name, fg)

    def stroke(name: str, fg: str, payload: dict[str, Any]) -> Any:
        try:
            radius = float(payload.get("radius", 0))
        except (TypeError, ValueError):
            raise AnnotateError(f"radius must be a number, got {payload.get('radius')!r}") from None
        return session.stroke(name, fg, payload.get("points"), radius, str(payload.get("mode")),
                              version_of(payload))

    def polygon(name: str, fg: str, payload: dict[str, Any]) -> Any:
        return session.polygon(name, fg, payload.get("points"), str(payload.get("mode", "add")), version_of(payload))

    def refine(name: str, fg: str, payload: dict[str, Any]) -> Any:
        try:
            iterations = int(payload.get("iterations", 3))
        except (TypeError, ValueError):
            raise AnnotateError(f"iterations must be an integer, got {payload.get('iterations')!r}") from None
        return session.refine(name, fg, iterations, version_of(payload))

    def delete(name: str, fg: str, payload: dict[str, Any]) -> Any:
        return session.delete_foreground(name, fg, version_of(payload))

    def undo(name: str) -> Any:
        return session.undo(name)

    def redo(name: str) -> Any:
        return session.redo(name)

    def reload(name: str) -> Any:
        return session.reload(name)

    def reload_lists() -> Any:
        return session.reload(None)

    prefix = "/api/images/{name:str}"
    routes = [
        Route("/", index),
        Route("/static/{name:str}", static_file),
        Route("/api/images", api(listing)),
        Route("/api/reload", api(reload_lists), methods=["POST"]),
        Route(prefix, api(detail)),
        Route(prefix + "/overview.jpg", api(overview, raw="image/jpeg")),
        Route(prefix + "/thumb.jpg", api(thumbnail, raw="image/jpeg")),
        Route(prefix + "/tiles/{level:str}/{column:str}/{row:str}.jpg", api(tile, raw="image/jpeg")),
        Route(prefix + "/chart", api(chart, body=True), methods=["PUT"]),
        Route(prefix + "/chart/reset", api(chart_reset, body=True), methods=["POST"]),
        Route(prefix + "/chart/place", api(chart_place), methods=["POST"]),
        Route(prefix + "/split", api(split, body=True), methods=["PUT"]),
        Route(prefix + "/foregrounds", api(new_foreground), methods=["POST"]),
        Route(prefix + "/foregrounds/{fg:str}/propose", api(propose, body=True), methods=["POST"]),
        Route(prefix + "/foregrounds/{fg:str}/accept", api(accept, body=True), methods=["POST"]),
        Route(prefix + "/foregrounds/{fg:str}/reject", api(reject), methods=["POST"]),
        Route(prefix + "/foregrounds/{fg:str}/stroke", api(stroke, body=True), methods=["POST"]),
        Route(prefix + "/foregrounds/{fg:str}/polygon", api(polygon, body=True), methods=["POST"]),
        Route(prefix + "/foregrounds/{fg:str}/refine", api(refine, body=True), methods=["POST"]),
        Route(prefix + "/foregrounds/{fg:str}/delete", api(delete, body=True), methods=["POST"]),
        Route(prefix + "/undo", api(undo), methods=["POST"]),
        Route(prefix + "/redo", api(redo), methods=["POST"]),
        Route(prefix + "/reload", api(reload), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    return Guard(app, token, hosts)


class AnnotateServer:
    """
    Serve a session on ``127.0.0.1`` with uvicorn.

    Parameters
    ----------
    session
        The annotation session.
    port
        TCP port; 0 picks a free one.
    token
        The token; a fresh :func:`secrets.token_urlsafe` by default.

    Raises
    ------
    AnnotateError
        When the port cannot be bound.

    Examples
    --------
    ``with AnnotateServer(session) as server: print(server.url)`` serves in a
    background thread; :meth:`run` serves in this one until Ctrl-C.
    """

    HOST = "127.0.0.1"

    def __init__(self, session: Session, *, port: int = 0, token: str | None = None) -> None:
        import uvicorn

        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.socket.bind((self.HOST, int(port)))
        except OSError as error:
            self.socket.close()
            raise AnnotateError(f"--port {port}: cannot listen on {self.HOST} ({error.strerror or error}); "
                                "pick another port or 0 for a free one") from None
        self.socket.listen(64)
        self.port = int(self.socket.getsockname()[1])
        hosts = {f"{self.HOST}:{self.port}", f"localhost:{self.port}"}
        self.app = create_app(session, self.token, hosts)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the URL to open (it carries the token)."""
        return f"http://{self.HOST}:{self.port}/?token={self.token}"

    @property
    def base(self) -> str:
        """Return ``http://127.0.0.1:<port>`` (no token)."""
        return f"http://{self.HOST}:{self.port}"

    def run(self) -> None:
        """Serve in this thread until interrupted."""
        self.server.run(sockets=[self.socket])

    def start(self) -> AnnotateServer:
        """Serve in a background thread; return when it accepts connections."""
        self._thread = threading.Thread(target=self.run, name="annotate-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AnnotateError("the annotation server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and the session's background work."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()
        self.session.close()

    def __enter__(self) -> AnnotateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
