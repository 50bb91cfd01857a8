"""
Per-foreground pixel checks (private to :mod:`ccharmony.dataset.verify`).

One task is one foreground: its real image and mask are read and decoded once,
then each of its composites is read, hashed, decoded and compared with them.
Tasks and results are plain picklable dataclasses so that a process pool can
map :func:`check_foreground` over them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ccharmony.dataset.phash import phash
from ccharmony.io.limits import DEFAULT_MAX_PIXELS
from ccharmony.dataset.verify._codec import (
    TOLERANCE_FACTOR,
    TOLERANCE_MEAN_OFFSET,
    CodecError,
    FileInfo,
    channel_max_absdiff,
    compare_within_codec,
    encode_decode,
    encode_decode_shifted,
    excluded_band,
    measure_error,
    read_image,
    region_stats,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@dataclass(frozen=True)
class CompositeTask:
    """One composite to check: its path and, for ``deep``, its recorded transfer (JSON text)."""

    composite: str
    transfer: str | None = None


@dataclass(frozen=True)
class ForegroundTask:
    """One foreground: real image, mask and composites, paths relative to ``root``."""

    root: str
    real: str
    mask: str
    composites: tuple[CompositeTask, ...]
    deep: bool = False
    want_phash: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class CompositeResult:
    """Outcome of one composite's checks; each field is None (ok / not run) or the problem text."""

    composite: str
    sizes: str | None = None
    outside: str | None = None
    inside: str | None = None
    deep: str | None = None
    deep_ran: bool = False
    outside_detail: str = ""


@dataclass
class ForegroundResult:
    """Everything one task found."""

    files: list[FileInfo] = field(default_factory=list)
    mask_binary: str | None = None
    mask_nonempty: str | None = None
    mask_not_full: str | None = None
    foreground_ratio: float | None = None
    phash: int | None = None
    composites: list[CompositeResult] = field(default_factory=list)
    error: str | None = None


def _mask_plane(mask: np.ndarray, result: ForegroundResult, path: str) -> np.ndarray:
    if mask.ndim == 3:
        channels = mask.shape[2]
        if channels == 4:
            mask = mask[:, :, :3]
        plane = mask[:, :, 0]
        if any(not np.array_equal(plane, mask[:, :, c]) for c in range(1, mask.shape[2])):
            result.mask_binary = "colour mask: channels differ"
        return plane
    return mask


Codec = tuple[int, tuple[int, int]]
"""A JPEG encoding: quality and luma sampling factors."""


def _codec(info: FileInfo) -> Codec | None:
    return None if info.quality is None else (info.quality, info.sampling)


def _reference_errors(
    real: np.ndarray, real_info: FileInfo, composite_info: FileInfo, region: np.ndarray | None,
    cache: dict, region_key: str,
) -> list[CodecError]:
    """
    Measured re-encoding error of the real image for each JPEG encoding involved (cached).

    A lossless composite involves none: it must equal the decoded real image exactly.
    """
    composite_codec = _codec(composite_info)
    if composite_codec is None:
        return []
    codecs = {c for c in (composite_codec, _codec(real_info)) if c is not None}
    errors = []
    for codec in sorted(codecs):
        key = (codec, region_key)
        if key not in cache:
            cache[key] = measure_error(real, _reencoded(real, codec, cache), region)
        errors.append(cache[key])
    return errors


def _reencoded(image: np.ndarray, codec: Codec, cache: dict) -> np.ndarray:
    key = (codec, "image")
    if key not in cache:
        cache[key] = encode_decode(image, codec[0], codec[1])
    return cache[key]


def check_foreground(task: ForegroundTask) -> ForegroundResult:
    """Run every per-file and pixel check of one foreground; never raises on bad data."""
    try:
        return _check_foreground(task)
    except Exception as error:  # noqa: BLE001 - reported as a problem, not a crash
        result = ForegroundResult(error=f"{type(error).__name__}: {error}")
        return result


def _check_foreground(task: ForegroundTask) -> ForegroundResult:
    root = Path(task.root)
    result = ForegroundResult()
    real_info, real = read_image(root, task.real, max_pixels=task.max_pixels)
    mask_info, mask_raw = read_image(root, task.mask, mask=True, max_pixels=task.max_pixels)
    result.files += [real_info, mask_info]
    foreground = None
    if mask_raw is not None:
        plane = _mask_plane(mask_raw, result, task.mask)
        foreground = plane > 0
        values = plane[foreground]
        count = int(values.size)
        if count and values.min() != values.max() and result.mask_binary is None:
            result.mask_binary = f"not binary: values {int(values.min())}..{int(values.max())} besides 0"
        if count == 0:
            result.mask_nonempty = "empty (no foreground pixel)"
        elif count == plane.size:
            result.mask_not_full = "covers the whole image"
        result.foreground_ratio = count / plane.size
    if real is not None and task.want_phash:
        result.phash = phash(real)

    usable = (real is not None and foreground is not None and real.shape[:2] == foreground.shape)
    if real is not None and foreground is not None and not usable:
        mask_info_size = f"{mask_info.width}x{mask_info.height}"
        real_size = f"{real_info.width}x{real_info.height}"
        size_problem = f"mask {mask_info_size} != real image {real_size}"
    else:
        size_problem = None
    outside: dict[str, np.ndarray] = {}  # uint8 0/255 region compared, per composite encoding
    inside = None
    cache: dict = {}
    reapply: Any = None
    if task.deep:
        try:
            from ccharmony.dataset.reapply import reapply_transfer
        except ImportError:  # reported by the caller, which checks first
            pass
        else:
            reapply = reapply_transfer

    for composite_task in task.composites:
        info, composite = read_image(root, composite_task.composite, max_pixels=task.max_pixels)
        result.files.append(info)
        outcome = CompositeResult(composite=composite_task.composite)
        result.composites.append(outcome)
        if composite is None:
            continue
        if size_problem:
            outcome.sizes = size_problem
        elif real is not None and composite.shape[:2] != real.shape[:2]:
            outcome.sizes = f"composite {info.width}x{info.height} != real image {real_info.width}x{real_info.height}"
        if not usable or outcome.sizes:
            continue
        assert real is not None and foreground is not None  # for mypy; usable implies both
        codec = _codec(info)
        region_key = "exact" if codec is None else f"outside{codec[1]}"
        if region_key not in outside:
            horizontal, vertical = (1, 1) if codec is None else codec[1]
            band = foreground if codec is None else excluded_band(foreground, (8 * vertical, 8 * horizontal))
            outside[region_key] = np.where(band, np.uint8(0), np.uint8(255))
        if inside is None:
            inside = np.where(foreground, np.uint8(255), np.uint8(0))
        region = outside[region_key]
        errors = _reference_errors(real, real_info, info, region, cache, region_key)
        candidates = [real] + ([_reencoded(real, codec, cache)] if codec is not None else [])
        difference = channel_max_absdiff(composite, real)
        ok, detail = compare_within_codec(composite, candidates, region, errors, first_difference=difference)
        outcome.outside_detail = detail
        if not ok:
            outcome.outside = detail
        if np.any(foreground):
            inside_errors = _reference_errors(real, real_info, info, inside, cache, "inside")
            mean_inside = region_stats(difference, inside)[1]
            if inside_errors:
                bound = TOLERANCE_FACTOR * sum(e.mean for e in inside_errors) + TOLERANCE_MEAN_OFFSET
            else:
                bound = 0.0
            if not mean_inside > bound:
                outcome.inside = (f"does not differ from the real image inside the mask: mean difference "
                                  f"{mean_inside:.2f} <= JPEG error bound {bound:.2f}")
        if task.deep and reapply is not None and composite_task.transfer is not None:
            outcome.deep_ran = True
            outcome.deep = _deep(composite, info, real, real_info, foreground, composite_task.transfer, reapply,
                                 cache)
    return result


def _deep(composite: np.ndarray, info: FileInfo, real: np.ndarray, real_info: FileInfo,
          foreground: np.ndarray, transfer: str, reapply, cache: dict) -> str | None:  # noqa: ANN001
    """Re-create the composite from the real image, mask and record; return the problem or None."""
    try:
        record = json.loads(transfer)
    except (TypeError, ValueError) as error:
        return f"transfer column is not JSON ({error})"
    def recreate(real_bgr: np.ndarray) -> np.ndarray:
        recreated_rgb = reapply(cv2.cvtColor(real_bgr, cv2.COLOR_BGR2RGB), foreground, record)
        return cv2.cvtColor(np.asarray(recreated_rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR)

    try:
        recreated = recreate(real)
    except Exception as error:  # noqa: BLE001 - a bad record is a problem of that composite
        return f"re-applying the recorded transfer failed: {type(error).__name__}: {error}"
    if recreated.shape != composite.shape:
        return f"re-created composite has shape {recreated.shape}, stored {composite.shape}"
    # Outside the mask the shallow check already compares with the real image; here the
    # foreground, where the transfer acts, is compared.
    region = np.where(foreground, np.uint8(255), np.uint8(0))
    errors = []
    candidates = [recreated]
    codec, real_codec = _codec(info), _codec(real_info)
    if codec is not None:
        reencoded = encode_decode(recreated, codec[0], codec[1])
        candidates.append(reencoded)
        errors.append(measure_error(recreated, reencoded, region))
    if real_codec is not None:
        # The stored real image carries its own JPEG error, which the transfer carries into the
        # foreground (amplified where it has gains > 1): measure it by re-applying the transfer to
        # the real image re-encoded at its own quality on a shifted grid (a first-generation error).
        key = (real_codec, "shifted")
        if key not in cache:
            cache[key] = encode_decode_shifted(real, real_codec[0], real_codec[1])
        again = recreate(cache[key])
        errors.append(measure_error(recreated, again, region))
    ok, detail = compare_within_codec(composite, candidates, region, errors)
    return None if ok else f"differs from the re-applied transfer: {detail}"
