"""
Paths from data
===============

Keep every path that a dataset or a run folder names inside that folder:

-   :func:`inside`: resolve a relative path under a root (symbolic links
    followed) and return it only when it stays inside the root.
-   :func:`resolve_inside`: the same, raising one line when it does not.

A list line ``composite_images/../../../outside/x.jpg``, a name
``../../x`` in a CSV, or a symbolic link in the folder pointing elsewhere would
otherwise make a reader open a file outside the folder the user gave. The rule
(``STYLE.md`` house rule 17) is: resolve, then check containment; a link out is
reported, never followed.
"""

from __future__ import annotations

import os
from pathlib import Path

from ccharmony._types import PathType
from ccharmony.errors import CCHarmonyError, DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["inside", "resolve_inside"]


def inside(root: PathType, relative: PathType) -> Path | None:
    """
    Return ``root / relative`` if, with every link resolved, it lies inside ``root``.

    Parameters
    ----------
    root
        The folder (itself resolved first, so a root reached through a link is fine).
    relative
        A path read from data: relative to ``root``; an absolute path is taken
        as it is and must lie inside ``root`` too.

    Returns
    -------
    pathlib.Path or None
        The unresolved ``root / relative`` (as messages should show it) when
        its resolved form is ``root`` or below it, else ``None``. A file that
        does not exist is judged by its resolved parent folders.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> inside(folder, "composite_images/a_b_1.jpg") is not None
    True
    >>> inside(folder, "composite_images/../../outside/x.jpg") is None
    True
    """
    base = Path(os.path.realpath(root))
    candidate = Path(root) / relative
    resolved = Path(os.path.realpath(candidate))
    if resolved == base or base in resolved.parents:
        return candidate
    return None


def resolve_inside(
    root: PathType, relative: PathType, *, what: str = "file", error: type[CCHarmonyError] = DatasetError
) -> Path:
    """
    Return ``root / relative``, raising when it leads outside ``root``.

    Raises
    ------
    CCHarmonyError
        Of class ``error``, one line naming the path, where it leads and the root.

    Examples
    --------
    >>> resolve_inside("/data/ds", "../../etc/passwd", what="composite")
    Traceback (most recent call last):
    ...
    ccharmony.errors.DatasetError: /data/ds/../../etc/passwd: composite leads outside /data/ds (to /etc/passwd); refused
    """
    found = inside(root, relative)
    if found is None:
        target = os.path.realpath(Path(root) / relative)
        raise error(f"{Path(root) / relative}: {what} leads outside {root} (to {target}); refused")
    return found
