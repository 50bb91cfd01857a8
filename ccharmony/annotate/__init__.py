"""
Annotate
========

The local web application of ``ccharmony annotate``: it turns a folder of
one's own checker photos into an annotation set (ARCHITECTURE.md section 5)
that ``ccharmony build --raw-dir photos/ --annotations ann/`` reads as is.

-   :class:`AnnotateOptions`, :class:`Session`: the state and every change,
    each written to the annotation set at once (:mod:`.session`).
-   :class:`AnnotateServer`: the Starlette / uvicorn server on 127.0.0.1 with
    a random token (:mod:`.server`).
-   :mod:`.masks`: GrabCut proposals and refinement, brush, polygon, outline
    (pure functions).
-   :mod:`.split`: the suggested, camera-balanced train / test split.
-   :mod:`.store`: confined, versioned, atomic file access.
-   :mod:`.photos`: the display render, tiles and chart view.

The browser side (``static/``: HTML, CSS, JavaScript, no third-party code)
ships in the package.
"""

from __future__ import annotations

from ccharmony.annotate.session import AnnotateOptions, Session

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["AnnotateOptions", "Session", "AnnotateServer"]


def __getattr__(name: str):  # noqa: ANN202 - lazy: the web framework is imported only to serve
    if name == "AnnotateServer":
        from ccharmony.annotate.server import AnnotateServer

        return AnnotateServer
    raise AttributeError(name)
