"""
Thumbnails
==========

Make the report's thumbnails once, in parallel, and keep them between runs:

-   :class:`ThumbnailJob`: one thumbnail to make (an image, or an image with
    a mask outline drawn on it).
-   :class:`ThumbnailResult`: what a job produced.
-   :func:`make_thumbnails`: run jobs not already in the cache.

The cache is a JSON manifest beside the thumbnails that maps each thumbnail
to a key made of the source files' sizes and modification times and the
thumbnail options; a thumbnail is made again only when its key changes.

Notes
-----
Thumbnails are display-only 8-bit sRGB JPEGs: pixels are resampled with
area averaging in the stored (gamma-encoded) values, which is what browsers
do too. JPEG sources are decoded at 1/2, 1/4 or 1/8 scale (DCT scaling) when
their size is known, which makes large images several times cheaper.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from ccharmony._types import PathType
from ccharmony.errors import ConfigError
from ccharmony.io.limits import DEFAULT_MAX_PIXELS

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["ThumbnailJob", "ThumbnailResult", "make_thumbnails", "CACHE_FILE", "OUTLINE_BGR"]

CACHE_FILE = "cache.json"
"""Name of the cache manifest inside the thumbnail folder."""

OUTLINE_BGR = (255, 0, 255)
"""Colour of the mask outline (magenta, OpenCV BGR order)."""

_CACHE_VERSION = 1
_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}
_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThumbnailJob:
    """
    Describe one thumbnail.

    Parameters
    ----------
    source
        Image file to shrink (any format OpenCV reads; 8-bit sRGB expected).
    target
        Thumbnail path relative to the thumbnail folder, ending in ``.jpg``.
    mask
        Mask file (non-zero = foreground): when given, its outline is drawn
        on the thumbnail, the background is dimmed and the foreground ratio
        is measured.
    source_size
        ``(height, width)`` of the source when known (lets JPEGs decode at a
        reduced scale); ``None`` when unknown.
    """

    source: str
    target: str
    mask: str | None = None
    source_size: tuple[int, int] | None = None


@dataclass(frozen=True)
class ThumbnailResult:
    """
    Describe what a :class:`ThumbnailJob` produced.

    Parameters
    ----------
    target
        The job's ``target``.
    ok
        Whether the thumbnail exists now.
    cached
        Whether it was taken from the cache instead of being made.
    foreground_ratio
        Fraction of non-zero mask pixels at full resolution, ``None`` without
        a mask (or when taken from the cache and not recorded there).
    error
        One line saying why the thumbnail could not be made, ``""`` when ok.
    """

    target: str
    ok: bool
    cached: bool
    foreground_ratio: float | None = None
    error: str = ""


def _stat_key(path: str | None) -> list[int]:
    if path is None:
        return []
    try:
        stat = os.stat(path)
    except OSError:
        return [-1, -1]
    return [stat.st_size, stat.st_mtime_ns]


def _job_key(job: ThumbnailJob, size: int, quality: int) -> list:
    return [_CACHE_VERSION, size, quality, _stat_key(job.source), _stat_key(job.mask)]


def _reduction(source_size: tuple[int, int] | None, size: int, source: str) -> int:
    if source_size is None or not source.lower().endswith((".jpg", ".jpeg")):
        return 1
    long_side = max(source_size)
    factor = 1
    while factor < 8 and long_side // (factor * 2) >= size:
        factor *= 2
    return factor


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _decode(path: str, flags: int, max_pixels: int, *, mask: bool = False) -> tuple[np.ndarray | None, str]:
    """Read and decode one image for a thumbnail; ``(None, reason)`` when it cannot be shown.

    Only a regular file is read (a FIFO would block), its content must be the
    format its extension names (a JPEG named ``.png`` is not a PNG mask), and
    its header must declare at most ``max_pixels`` pixels (checked before
    decoding, :mod:`ccharmony.io.limits`).
    """
    from ccharmony.errors import CCHarmonyError
    from ccharmony.io.files import read_regular_bytes
    from ccharmony.io.limits import check_image_size, opencv_failure
    from ccharmony.io.sniff import describe_container, extension_class, sniff_container

    try:
        data = read_regular_bytes(path)
    except CCHarmonyError as error:
        reason = str(error).removeprefix(f"{path}: ")
        return None, "file is missing" if reason == "no such file" else reason
    if not data:
        return None, "file is empty"
    claimed, content = extension_class(path), sniff_container(data[:64])
    if claimed in ("jpeg", "png", "tiff") and content == "unknown":
        return None, f"cannot be decoded (the content is not {describe_container(claimed)})"
    if claimed in ("jpeg", "png", "tiff") and content != claimed:
        return None, (f"file content is {describe_container(content)} but the extension says "
                      f"{describe_container(claimed)}" + ("; a mask must be a lossless PNG" if mask else ""))
    try:
        check_image_size(data, name=path, max_pixels=max_pixels, allow_unknown=False)
    except CCHarmonyError as error:
        return None, str(error).removeprefix(f"{path}: ")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:  # OpenCV's own limits and decoder failures
        return None, f"cannot be decoded: {opencv_failure(error)}"
    if image is None or image.size == 0:
        return None, "cannot be decoded"
    return image, ""


def _make_one(job: ThumbnailJob, folder: str, size: int, quality: int,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> ThumbnailResult:
    """Make one thumbnail; never raises for bad input (the result says why)."""
    factor = _reduction(job.source_size, size, job.source)
    image, reason = _decode(job.source, _REDUCED[factor], max_pixels)
    if image is None:
        return ThumbnailResult(job.target, False, False, error=f"{job.source}: {reason}")
    height, width = image.shape[:2]
    scale = min(1.0, size / max(height, width))
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    thumbnail = cv2.resize(image, new_size, interpolation=cv2.INTER_AREA) if scale < 1 else image
    ratio = None
    if job.mask is not None:
        mask, reason = _decode(job.mask, cv2.IMREAD_GRAYSCALE, max_pixels, mask=True)
        if mask is None:
            return ThumbnailResult(job.target, False, False, error=f"{job.mask}: {reason}")
        ratio = float(np.count_nonzero(mask)) / mask.size
        small = cv2.resize((mask > 0).astype(np.uint8) * 255, new_size, interpolation=cv2.INTER_AREA) >= 128
        dimmed = (thumbnail.astype(np.float32) * 0.55).astype(np.uint8)
        thumbnail = np.where(small[..., None], thumbnail, dimmed)
        contours, _ = cv2.findContours(small.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(thumbnail, contours, -1, OUTLINE_BGR, 1, lineType=cv2.LINE_AA)
    ok, encoded = cv2.imencode(".jpg", thumbnail, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        return ThumbnailResult(job.target, False, False, error=f"{job.source}: cannot encode a JPEG thumbnail")
    _write_atomic(Path(folder) / job.target, encoded.tobytes())
    return ThumbnailResult(job.target, True, False, foreground_ratio=ratio)


def _make_chunk(jobs: Sequence[ThumbnailJob], folder: str, size: int, quality: int,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> list[ThumbnailResult]:
    return [_make_one(job, folder, size, quality, max_pixels) for job in jobs]


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def make_thumbnails(
    jobs: Sequence[ThumbnailJob],
    folder: PathType,
    *,
    size: int = 160,
    quality: int = 82,
    workers: int = 0,
    pool: Literal["thread", "process"] = "thread",
    progress: Callable[[int, int], None] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[ThumbnailResult]:
    """
    Make the thumbnails of ``jobs`` under ``folder``, reusing cached ones.

    Parameters
    ----------
    jobs
        Thumbnails to make; targets must be unique.
    folder
        Thumbnail folder; created when missing. Its ``cache.json`` manifest
        is rewritten (atomically) at the end.
    size
        Longest side of a thumbnail in pixels; smaller images are not
        enlarged.
    quality
        JPEG quality, 1-100.
    workers
        Parallel workers; 0 means ``min(8, os.cpu_count())``, 1 runs in this
        thread.
    pool
        ``"thread"`` (OpenCV releases the GIL while decoding, resizing and
        encoding, so threads run in parallel without start-up cost) or
        ``"process"`` (a process pool, spawned).
    progress
        Called as ``progress(done, total)`` after each chunk of work.
    max_pixels
        Largest source image decoded; larger ones (by their header) are not
        shown and their result says why.

    Returns
    -------
    list of ThumbnailResult
        One per job, in the order of ``jobs``.

    Raises
    ------
    ConfigError
        When ``size``, ``quality``, ``workers`` or ``pool`` is out of range,
        or when two jobs share a target.

    Notes
    -----
    Domain: 8-bit sRGB images (any format OpenCV decodes) and masks.
    Range: 8-bit sRGB JPEG thumbnails. A missing or undecodable source gives
    a result with ``ok=False`` and an ``error`` line; it is not raised, so
    that one bad file does not stop a report.
    """
    if size < 8:
        raise ConfigError(f"thumbnail size must be >= 8 pixels, got {size}")
    if not 1 <= quality <= 100:
        raise ConfigError(f"thumbnail JPEG quality must be in 1..100, got {quality}")
    if workers < 0:
        raise ConfigError(f"thumbnail workers must be >= 0 (0 = automatic), got {workers}")
    if pool not in ("thread", "process"):
        raise ConfigError(f"thumbnail pool must be 'thread' or 'process', got {pool!r}")
    targets = [job.target for job in jobs]
    if len(set(targets)) != len(targets):
        raise ConfigError("thumbnail targets must be unique: two jobs write the same file")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / CACHE_FILE
    manifest = _read_manifest(manifest_path)
    results: dict[str, ThumbnailResult] = {}
    todo: list[ThumbnailJob] = []
    keys = {}
    for job in jobs:
        key = _job_key(job, size, quality)
        keys[job.target] = key
        entry = manifest.get(job.target)
        if isinstance(entry, dict) and entry.get("key") == key and (root / job.target).is_file():
            results[job.target] = ThumbnailResult(job.target, True, True, foreground_ratio=entry.get("ratio"))
        else:
            todo.append(job)
    workers = workers or min(8, os.cpu_count() or 1)
    chunk = max(1, min(64, len(todo) // (4 * workers) or 1))
    chunks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
    done = len(results)
    if progress is not None:
        progress(done, len(jobs))
    made: list[ThumbnailResult] = []
    if workers == 1 or len(todo) <= 16:
        for part in chunks:
            made += _make_chunk(part, str(root), size, quality, max_pixels)
            done += len(part)
            if progress is not None:
                progress(done, len(jobs))
    else:
        executor: Executor
        if pool == "thread":
            executor = ThreadPoolExecutor(max_workers=workers)
        else:
            import multiprocessing

            executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        with executor:
            futures = [executor.submit(_make_chunk, part, str(root), size, quality, max_pixels) for part in chunks]
            for future in futures:
                part_results = future.result()
                made += part_results
                done += len(part_results)
                if progress is not None:
                    progress(done, len(jobs))
    for result in made:
        results[result.target] = result
        if not result.ok:  # the caller reports it (write_report lists it on the overview and the CLI prints it)
            _LOGGER.debug("thumbnail not made: %s", result.error)
    new_manifest = {
        target: {"key": keys[target], "ratio": results[target].foreground_ratio}
        for target in targets if results[target].ok
    }
    # Keep entries of thumbnails that this run did not ask for (another dataset view may).
    for target, entry in manifest.items():
        new_manifest.setdefault(target, entry)
    _write_atomic(manifest_path, json.dumps(new_manifest, separators=(",", ":")).encode())
    return [results[target] for target in targets]
