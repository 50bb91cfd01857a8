"""
Build stages
============

The per-image stages of ``ccharmony build``, as pure functions of their task
(plus the pipeline), so that one source image is one independent task that a
process pool or a Ray cluster can run:

-   :func:`prepare_image`: ingest a photo, locate its chart (annotation or
    detection), sample the patches, estimate the illuminant, crop the chart
    away, render the real image and load its masks (stage A).
-   :func:`make_composites`: fit each foreground's transfers to its targets and
    synthesize the composites (stage B).

Stage functions never write into the dataset folder: they return encoded bytes
and records, and the builder's single writer puts them in place atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ccharmony.dataset.config import Pipeline
from ccharmony.dataset.layout import composite_name, image_id, mask_name, real_name
from ccharmony.dataset.writer import Stored
from ccharmony.errors import AnnotationError, CCHarmonyError, DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "ImageTask",
    "PreparedImage",
    "CompositeTask",
    "prepare_image",
    "make_composites",
    "fit_chain",
    "chain_with_maps",
    "MAP_PUBLISHED",
    "MAP_REFIT",
    "Skip",
    "stage_file",
    "cache_file",
    "cache_files_of_image",
    "cache_files_of_task",
    "peak_rss_mb",
    "PEAK_RSS",
]


@dataclass(frozen=True)
class Skip:
    """A per-image problem: the image is left out and the reason is reported."""

    image: str
    reason: str


@dataclass(frozen=True)
class ImageTask:
    """
    Everything stage A needs for one source image (picklable).

    Parameters
    ----------
    image
        Source image name as the annotations spell it (``"IMG_0285"``).
    photo
        The photo file.
    masks
        Foreground letter -> mask file.
    patch_colors, checker, crop
        Optional annotation files for this image.
    cache_dir
        Where stage A leaves the decoded pixels stage B needs.
    ingest
        :class:`ccharmony.io.IngestOptions` or ``None``.
    stage_dir
        ``None``: the encoded output files travel back as bytes. A folder on
        the output's file system: each is written there under a temporary name
        and travels back as that path, for the builder's writer to move into
        place (see :func:`stage_file`).
    cache_in_memory
        Hand the pixel cache back as arrays (:attr:`PreparedImage.cache`) for
        the caller to save, instead of saving it here. For a stage run in the
        building process itself: its writer thread saves them on another core.
    """

    image: str
    photo: Path
    masks: tuple[tuple[str, Path], ...]
    patch_colors: Path | None = None
    checker: Path | None = None
    macbeth: Path | None = None
    crop: Path | None = None
    cache_dir: Path = Path(".")
    ingest: Any = None
    stage_dir: Path | None = None
    cache_in_memory: bool = False


@dataclass
class PreparedImage:
    """
    Stage A's result for one image: JSON-safe facts plus the files to write.

    ``files`` maps a path relative to the dataset folder to its encoded bytes,
    to the staged file holding them (:func:`stage_file`), or to the record of
    a file a task put on the dataset's store itself
    (:mod:`ccharmony.dataset.remote`); the builder writes them. Pixels stage B needs are cached as ``.npy`` files in the task's cache
    folder, or handed back in ``cache`` (:attr:`ImageTask.cache_in_memory`).
    """

    image: str
    id: str
    camera: str
    size: tuple[int, int]
    crop: dict[str, int]
    illuminant: list[float]
    illuminant_srgb: list[float]
    patches_srgb8: list[list[float]]
    patches_linear: list[list[float]] | None
    clipped_patches: int
    render: dict[str, Any]
    foregrounds: dict[str, float]
    chart_method: str
    loo_residual_de00: float | None
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, bytes | Path | Stored] = field(default_factory=dict, repr=False)
    cache: dict[Path, np.ndarray] = field(default_factory=dict, repr=False)
    """Cache file -> array, with :attr:`ImageTask.cache_in_memory` (otherwise saved already)."""

    def to_json(self) -> dict[str, Any]:
        """Return the record without the file payloads and cached arrays."""
        data = {key: value for key, value in self.__dict__.items() if key not in ("files", "cache")}
        return data


@dataclass(frozen=True)
class CompositeTask:
    """
    Everything stage B needs for one source image's foregrounds (picklable).

    ``published`` maps an image name (the source's and its targets') to its
    published ``(3, 11)`` poly11 maps, ``{"forward": M, "reverse": M}``, for
    the images that have them and a pipeline with ``maps: published``
    (:func:`fit_chain`).
    """

    source: dict[str, Any]
    targets: dict[str, tuple[dict[str, Any], ...]]
    splits: dict[str, str]
    cache_dir: Path
    stage_dir: Path | None = None
    published: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


PEAK_RSS = "peak_rss_mb"
"""Key of a stage result's ``timings`` holding :func:`peak_rss_mb` (a maximum, not a duration)."""


def peak_rss_mb() -> float:
    """
    Return this process's peak resident memory so far, in MiB (0 where unknown).

    Each stage function reports it with its timings, so the builder can record
    the largest worker's peak whatever runs the tasks (a pool's workers are not
    the building process's own children).
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)  # bytes on macOS, KiB elsewhere


def _elapsed(timings: dict[str, float], stage: str, start: float) -> float:
    now = time.perf_counter()
    timings[stage] = timings.get(stage, 0.0) + now - start
    return now


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stage_file(data: bytes, relative: str, stage_dir: Path | None) -> bytes | Path:
    """
    Return an output file's payload as a stage function hands it to the builder.

    With ``stage_dir`` ``None``, the bytes themselves. Otherwise the bytes are
    written to a new file in ``stage_dir`` (same suffix as ``relative``) and its
    path is returned: the builder's single writer then only renames it into
    place. A pool worker that returned the bytes would pickle them through a
    pipe for the building process to copy again; at 24 megapixels that is
    about 40 MB per foreground and, on two cores, the largest cost of
    ``--workers 2`` (``benchmarks/build_speed.py``). A staged file is never part
    of the dataset until renamed, so an interrupted build leaves nothing
    half-written.
    """
    if stage_dir is None:
        return data
    from ccharmony.dataset.writer import write_new_file
    from ccharmony.io.atomic import temporary_sibling

    path = temporary_sibling(stage_dir / Path(relative).name)
    write_new_file(path, data)  # a full disk: one line naming the file
    return path


def _read_mask(path: Path, frame_size: tuple[int, int], max_pixels: int) -> np.ndarray:
    """Decode a mask: a regular PNG file no larger than the photo (:func:`ccharmony.dataset.checks.read_mask_bytes`)."""
    from ccharmony.dataset.checks import read_mask_bytes
    from ccharmony.io.encode import decode_mask

    data = read_mask_bytes(path, frame_size=frame_size)
    try:
        return decode_mask(data, name=str(path), max_pixels=max_pixels)
    except CCHarmonyError as error:
        raise AnnotationError(str(error)) from None  # it names the file


def _chart_file(task: ImageTask) -> Path:
    """The file the chart's corners come from (annotation), else the photo (detection)."""
    return task.checker or task.macbeth or task.photo


def _locate_chart(task: ImageTask, linear: Any, pipeline: Pipeline):  # noqa: ANN202
    """Return a :class:`~ccharmony.checker.Checker` or ``None`` (annotations first)."""
    from ccharmony import checker as checker_module
    from ccharmony.io.files import check_regular

    height, width = linear.shape
    try:
        if task.checker is not None:
            check_regular(task.checker, what="a chart corners file", error=AnnotationError)
            return checker_module.read_corners_json(task.checker, image_size=(height, width))
        if task.macbeth is not None:
            check_regular(task.macbeth, what="a chart coordinates file", error=AnnotationError)
            return checker_module.read_macbeth_txt(task.macbeth, image_size=(height, width))
    except RecursionError:
        raise AnnotationError(f"{_chart_file(task)}: not a chart corners file (nested too deeply to read)") from None
    return checker_module.detect(linear, max_side=pipeline.detection_max_side)


def _crop_box(task: ImageTask, frame_size: tuple[int, int], mask_size: tuple[int, int] | None, chart, pipeline: Pipeline):  # noqa: ANN001, ANN202
    """Decide the crop that removes the chart (annotation, inferred or computed)."""
    from ccharmony.crop import CropBox, crop_excluding_chart, infer_crop
    from ccharmony.io.files import read_regular_text

    if task.crop is not None:
        text = read_regular_text(task.crop, what="a crop file", error=AnnotationError)
        try:
            data = json.loads(text)
        except ValueError as error:
            raise AnnotationError(f"{task.crop}: not a crop box {{x, y, width, height}} (not JSON: {error})") from None
        except RecursionError:
            raise AnnotationError(f"{task.crop}: not a crop box {{x, y, width, height}} (nested too deeply)") from None
        if not isinstance(data, dict):
            raise AnnotationError(f"{task.crop}: not a crop box {{x, y, width, height}}, got {type(data).__name__}")
        return CropBox.from_dict(data, name=str(task.crop)), "annotation"
    first_mask = task.masks[0][1] if task.masks else task.photo
    if chart is None:
        if mask_size is not None and tuple(mask_size) != tuple(frame_size):
            raise AnnotationError(
                f"{first_mask}: mask is {mask_size[1]}x{mask_size[0]} but the photo {task.photo.name} is "
                f"{frame_size[1]}x{frame_size[0]} and no chart was found to infer the crop"
            )
        return CropBox(0, 0, frame_size[1], frame_size[0]), "full-frame"
    if mask_size is not None and tuple(mask_size) != tuple(frame_size):
        return infer_crop(frame_size, mask_size, chart.corners, mask_name=str(first_mask)), "inferred"
    return crop_excluding_chart(frame_size, chart.corners, margin=pipeline.crop_margin), "computed"


def _finite(values: Any) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))
    except (TypeError, ValueError):
        return False


def prepare_image(task: ImageTask, pipeline: Pipeline) -> PreparedImage | Skip:
    """
    Run stage A for one source image.

    Parameters
    ----------
    task
        The image and its annotation files.
    pipeline
        The build configuration.

    Returns
    -------
    PreparedImage or Skip
        ``Skip`` with a one-line reason for a per-image problem (unreadable photo,
        no chart and no patch colours, mask of the wrong size, empty mask ...).
    """
    try:
        return _prepare_image(task, pipeline)
    except CCHarmonyError as error:
        return Skip(task.image, str(error))
    except RecursionError:  # a hostile annotation a reader did not guard against
        return Skip(task.image, f"{task.image}: an annotation file is nested too deeply to read")
    except MemoryError:
        return Skip(task.image, f"{task.photo}: out of memory while preparing this image (is it unusually large?)")


def _prepare_image(task: ImageTask, pipeline: Pipeline) -> PreparedImage:
    from ccharmony import checker as checker_module
    from ccharmony.checker.geometry import check_quadrilateral
    from ccharmony.dataset.checks import (
        check_illuminant,
        check_mask_fits,
        check_min_size,
        check_patch_contrast,
    )
    from ccharmony.illuminant import illuminant_from_patches
    from ccharmony.io import read_image
    from ccharmony.io.files import check_regular
    from ccharmony.io.limits import DEFAULT_MAX_PIXELS
    from ccharmony.io.encode import encode_image, encode_mask
    from ccharmony.io.patch_colors import read_patch_colors_csv
    from ccharmony.render import render_srgb, render_srgb_float
    from ccharmony.transfer import loo_residual

    timings: dict[str, float] = {}
    start = time.perf_counter()
    linear = read_image(task.photo, task.ingest)
    start = _elapsed(timings, "decode", start)

    max_pixels = getattr(task.ingest, "max_pixels", None) or DEFAULT_MAX_PIXELS
    masks = {letter: _read_mask(path, linear.shape, max_pixels) for letter, path in task.masks}
    start = _elapsed(timings, "masks", start)
    mask_sizes = {mask.shape for mask in masks.values()}
    if len(mask_sizes) > 1:
        sizes = ", ".join(f"{path.name} {masks[letter].shape[1]}x{masks[letter].shape[0]}" for letter, path in task.masks)
        raise AnnotationError(f"{task.image}: its masks have different sizes ({sizes}); all must be the real image's size")
    mask_size = next(iter(mask_sizes)) if mask_sizes else None

    need_linear_patches = pipeline.domain == "linear" or task.patch_colors is None
    chart = None
    if need_linear_patches or task.crop is None:
        chart = _locate_chart(task, linear, pipeline)
    start = _elapsed(timings, "detect", start)
    if chart is None and need_linear_patches:
        raise AnnotationError(
            f"{task.photo}: no ColorChecker found and no patch colours annotated; "
            "add patch_colors/<image>.csv or checkers/<image>.json"
        )

    patches = None
    illuminant: Any = None
    if chart is not None:
        try:  # the readers check annotated corners; a detected chart is checked the same way
            check_quadrilateral(chart.corners)
        except ValueError as error:
            raise AnnotationError(f"{_chart_file(task)}: {error}") from None
        patches = checker_module.sample(linear, chart)
        # A chart whose neutral patches are all clipped (or black) has no illuminant:
        # the image is left out, so that no NaN reaches the dataset.
        illuminant = check_illuminant(_chart_file(task), illuminant_from_patches(patches),
                                      source="the chart's neutral patches")
        check_patch_contrast(_chart_file(task), patches.RGB, what="patches sampled inside the chart corners")
    start = _elapsed(timings, "sample", start)

    # Crop the chart away, then render only what is kept.
    box, crop_source = _crop_box(task, linear.shape, mask_size, chart, pipeline)
    frame_h, frame_w = linear.shape
    if box.x < 0 or box.y < 0 or box.x + box.width > frame_w or box.y + box.height > frame_h:
        where = task.crop if crop_source == "annotation" else task.image
        raise AnnotationError(f"{where}: crop {box.to_dict()} lies outside the {frame_w}x{frame_h} photo")
    check_min_size(task.crop if crop_source == "annotation" else task.masks[0][1] if crop_source == "inferred"
                   else task.photo, (box.height, box.width))
    cropped = linear.RGB[box.y : box.y + box.height, box.x : box.x + box.width]
    if mask_size is None or tuple(mask_size) == (frame_h, frame_w):
        masks = {k: m[box.y : box.y + box.height, box.x : box.x + box.width] for k, m in masks.items()}
    elif tuple(mask_size) != cropped.shape[:2]:
        # Published masks come from resized images: bring them to the crop's pixel grid,
        # provided they are a resize of it (not a 1000x10 strip stretched onto it).
        import cv2

        for letter, path in task.masks:
            check_mask_fits(path, masks[letter].shape, (box.height, box.width))
        masks = {
            k: cv2.resize(m.astype(np.uint8), (box.width, box.height), interpolation=cv2.INTER_NEAREST) > 0
            for k, m in masks.items()
        }

    ratios: dict[str, float] = {}
    for letter, mask in masks.items():
        count = int(mask.sum())
        if count == 0:
            raise AnnotationError(f"{dict(task.masks)[letter]}: mask has no foreground pixel inside the crop")
        if count == mask.size:
            raise AnnotationError(f"{dict(task.masks)[letter]}: mask covers the whole image (no background)")
        ratios[letter] = count / mask.size

    parameters = render_parameters(linear, patches)
    render = parameters.to_dict()
    real8 = render_srgb(cropped, camera_matrix=parameters)
    # OpenCV's BGR order from here on: the JPEG encoder and stage B both use it.
    real_bgr = np.ascontiguousarray(real8[..., ::-1])
    size = (int(real8.shape[0]), int(real8.shape[1]))
    del real8
    start = _elapsed(timings, "render", start)

    if task.patch_colors is not None and pipeline.domain == "srgb8":
        check_regular(task.patch_colors, what="a patch colour file", error=AnnotationError)
        patches_srgb8 = read_patch_colors_csv(task.patch_colors).astype(np.float64)
        check_patch_contrast(task.patch_colors, patches_srgb8)
    elif patches is not None:
        patches_srgb8 = render_srgb_float(patches.RGB, camera_matrix=parameters).astype(np.float64)
    else:  # pragma: no cover - guarded above
        raise AnnotationError(f"{task.image}: no patch colours")

    if patches is not None:
        illuminant_srgb = check_illuminant(_chart_file(task), illuminant_in_srgb(illuminant, parameters),
                                           source="the chart's neutral patches")
        clipped = int(np.sum(patches.clipped))
    else:
        # Published patch colours only: the neutral row's linearised sRGB direction
        # (the illuminant as the published rendering shows it; no camera RGB exists).
        import colour

        neutral = colour.cctf_decoding(patches_srgb8[18:22] / 255.0, function="sRGB").mean(axis=0)
        neutral = check_illuminant(task.patch_colors, neutral, source="its neutral patch colours (rows 1-4)")
        illuminant = neutral / np.linalg.norm(neutral)
        illuminant_srgb = illuminant
        clipped = int(np.sum(patches_srgb8 >= 254.5) > 0)

    import warnings

    residual = loo_residual(pipeline.method, *_loo_pair(pipeline, patches_srgb8, patches))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no residual, recorded as None
        loo_mean = float(np.nanmean(residual))
    loo = loo_mean if np.isfinite(loo_mean) else None
    for field_name, values in (("illuminant", illuminant), ("illuminant in sRGB", illuminant_srgb),
                               ("patch colours", patches_srgb8), ("foreground ratios", list(ratios.values())),
                               ("linear patches", [] if patches is None else patches.RGB)):
        if not _finite(values):
            raise AnnotationError(f"{task.photo}: its {field_name} are not finite numbers; the image is left out")

    ident = image_id(task.image)
    start = _elapsed(timings, "illuminant", start)
    encoded: dict[str, bytes] = {}
    encoded[f"real_images/{real_name(ident)}"] = encode_image(
        real_bgr, ".jpg", quality=pipeline.jpeg_quality, chroma_444=pipeline.jpeg_chroma_444, bgr=True
    )
    for letter, mask in masks.items():
        encoded[f"masks/{mask_name(ident, letter)}"] = encode_mask(mask)
    start = _elapsed(timings, "encode", start)
    files: dict[str, bytes | Path | Stored] = {
        relative: stage_file(data, relative, task.stage_dir) for relative, data in encoded.items()}
    del encoded
    start = _elapsed(timings, "write", start)

    cache: dict[Path, np.ndarray] = {task.cache_dir / f"{ident}.real-bgr.npy": real_bgr}
    for letter, mask in masks.items():
        # One bit per pixel: an eighth of the bytes written and read back.
        cache[cache_file(task.cache_dir, ident, letter)] = np.packbits(mask, axis=None)
    if pipeline.domain == "linear":
        # Only the foreground pixels, in row-major order of the union of the masks.
        union = np.flatnonzero(np.any(np.stack(list(masks.values())), axis=0))
        cache[task.cache_dir / f"{ident}.union.npy"] = union
        rows_of = union // cropped.shape[1]
        cache[task.cache_dir / f"{ident}.linear.npy"] = np.ascontiguousarray(
            cropped[rows_of, union - rows_of * cropped.shape[1]], dtype=np.float32
        )
    if not task.cache_in_memory:
        task.cache_dir.mkdir(parents=True, exist_ok=True)
        from ccharmony.dataset.writer import write_file_atomic

        for path, array in cache.items():
            write_file_atomic(path, array)
        cache = {}
    _elapsed(timings, "cache", start)

    return PreparedImage(
        image=task.image,
        id=ident,
        camera=linear.metadata.camera,
        size=size,
        crop={**box.to_dict(), "source": crop_source},
        illuminant=[float(v) for v in illuminant],
        illuminant_srgb=[float(v) for v in illuminant_srgb],
        patches_srgb8=patches_srgb8.tolist(),
        patches_linear=None if patches is None else patches.RGB.astype(float).tolist(),
        clipped_patches=clipped,
        render=render,
        foregrounds=ratios,
        chart_method="annotation-patches" if chart is None else chart.method,
        loo_residual_de00=loo,
        timings={**timings, PEAK_RSS: peak_rss_mb()},
        files=files,
        cache=cache,
    )


def illuminant_in_srgb(illuminant: Any, parameters: Any) -> np.ndarray:
    """
    Return a camera-RGB illuminant as a linear sRGB unit vector.

    Camera RGB directions of two different cameras are not comparable (the angle
    between a Canon's and a Sigma's daylight is tens of degrees), so angles and
    the ``diverse`` target policy use the illuminant taken through the camera's
    fixed pipeline (daylight gains, then camera -> linear sRGB matrix); D65 maps
    to ``(1, 1, 1) / sqrt(3)`` for every camera.

    Parameters
    ----------
    illuminant
        ``(3,)`` camera-RGB illuminant, any scale.
    parameters
        The image's :class:`ccharmony.render.RenderParameters`.

    Notes
    -----
    Domain: camera RGB, any positive scale. Range: unit vector in linear sRGB;
    negative components (illuminants outside the sRGB gamut) are kept.
    """
    vector = np.asarray(parameters.matrix, dtype=np.float64) @ (
        np.asarray(parameters.gains, dtype=np.float64) * np.asarray(illuminant, dtype=np.float64)
    )
    return vector / np.linalg.norm(vector)


def standard_patches(domain: str) -> np.ndarray:
    """
    Return the ColorChecker 2005 standard in a transfer domain.

    ``srgb8``: the published 8-bit sRGB table; ``linear``: the same colours
    decoded with the sRGB transfer function (linear sRGB, [0, 1]).
    """
    import colour

    from ccharmony.io.patch_colors import read_standard_srgb

    table = read_standard_srgb(dtype=np.float64)
    if domain == "srgb8":
        return table
    return np.asarray(colour.cctf_decoding(table / 255.0, function="sRGB"), dtype=np.float64)


def _loo_pair(pipeline: Pipeline, patches_srgb8: np.ndarray, patches: Any) -> tuple[np.ndarray, np.ndarray]:
    """Source and standard patch colours of the per-image leave-one-out residual."""
    if pipeline.domain == "srgb8":
        return patches_srgb8, standard_patches("srgb8")
    return np.asarray(patches.RGB, dtype=np.float64), standard_patches("linear")


EXPOSURE_WHITE = 0.9
"""Linear value the chart's white patch is rendered at (its reflectance, about 0.9)."""


def render_parameters(linear: Any, patches: Any = None):  # noqa: ANN201
    """
    Return the fixed render pipeline of one photo.

    The camera's fixed daylight pipeline (:func:`ccharmony.render.rendering_parameters`)
    with one exposure scalar per photo: the chart's white patch (its green channel
    after the daylight gains) is brought to :data:`EXPOSURE_WHITE`; the 8th neutral
    patch stands in when white is clipped; without a chart, the 99th percentile of
    green. A scalar does not change the illumination cast.
    """
    from ccharmony.render import rendering_parameters

    matrix = linear.metadata.camera_matrix
    base = rendering_parameters(None if matrix is None else np.asarray(matrix, dtype=np.float64))
    green = None
    if patches is not None:
        RGB = np.asarray(patches.RGB, dtype=np.float64) * base.gains
        clipped = np.asarray(patches.clipped)
        for index, reflectance in ((18, 0.9), (19, 0.59)):
            if not clipped[index] and RGB[index, 1] > 1e-4:
                green = RGB[index, 1] * EXPOSURE_WHITE / reflectance
                break
    if green is None:
        green = float(np.percentile(linear.RGB[::4, ::4, 1], 99)) * base.gains[1]
    exposure = EXPOSURE_WHITE / max(float(green), 1e-4)
    return rendering_parameters(
        None if matrix is None else np.asarray(matrix, dtype=np.float64), exposure=exposure
    )


def cache_file(cache_dir: Path, ident: str, letter: str) -> Path:
    """Return the stage-A cache file of one foreground's mask (packed bits, row-major)."""
    return cache_dir / f"{ident}_{letter}.mask-bits.npy"


def cache_files_of_image(cache_dir: Path, ident: str) -> list[Path]:
    """Return the stage-A cache files one image's foregrounds share (some may not exist)."""
    return [cache_dir / f"{ident}.{kind}.npy" for kind in ("real-bgr", "union", "linear")]


def cache_files_of_task(task: CompositeTask, pipeline: Pipeline) -> list[Path]:
    """Return every stage-A cache file :func:`make_composites` reads for ``task``."""
    ident = task.source["id"]
    kinds = ("real-bgr", "union", "linear") if pipeline.domain == "linear" else ("real-bgr",)
    return [task.cache_dir / f"{ident}.{kind}.npy" for kind in kinds] + [
        cache_file(task.cache_dir, ident, letter) for letter in sorted(task.targets)
    ]


def _map_colours(colours: np.ndarray, chain: Any, first_steps: dict[tuple[str, bytes], np.ndarray]) -> np.ndarray:
    """Map ``(u, 3)`` uint8 sRGB colours with one ``srgb8`` chain (see :func:`_map_colours_many`)."""
    return _map_colours_many(colours, [chain], first_steps)[0]


def _map_colours_many(
    colours: np.ndarray, chains: list[Any], first_steps: dict[tuple[str, bytes], np.ndarray]
) -> list[np.ndarray]:
    """
    Map ``(u, 3)`` uint8 sRGB colours with each of several ``srgb8`` transfer chains.

    The same bytes, chain by chain, as
    :func:`ccharmony.dataset.reapply.apply_record_to_foreground`
    (``clip(rint(chain.apply(colours)))``), computed with less work: the
    float64 output of a chain's first step (source -> standard, the same for
    all K targets of a foreground) is computed once and kept in
    ``first_steps``, and the term expansion of that output (11 terms for
    ``poly11``) once per block for every chain whose second step uses it,
    instead of once per chain.

    Returns
    -------
    list of numpy.ndarray
        ``(u, 3)`` uint8, one per chain.
    """
    from ccharmony.transfer import Transfer
    from ccharmony.transfer._methods import _SPECS
    from ccharmony.transfer.record import _BLOCK_PIXELS

    middles = []
    for chain in chains:
        head = chain.steps[0]
        key = (head.method, head.params.tobytes())
        middle = first_steps.get(key)
        if middle is None:
            values = colours.astype(np.float32)
            middle = np.empty(values.shape, dtype=np.float64)
            for start in range(0, len(values), _BLOCK_PIXELS):
                middle[start : start + _BLOCK_PIXELS] = head._evaluate64(
                    values[start : start + _BLOCK_PIXELS].astype(np.float64)
                )
            first_steps[key] = middle
        middles.append(middle)
    # uint8 per block (K tables of 3 bytes per colour, not float32 ones of 12).
    outs = [np.empty(middle.shape, dtype=np.uint8) for middle in middles]
    tails = [
        Transfer(chain.steps[2].method, chain.steps[2].params, chain.steps[2].domain, chain=chain.steps[3:])
        if len(chain.steps) > 2 else None
        for chain in chains
    ]
    for start in range(0, len(colours), _BLOCK_PIXELS):
        expansions: dict[tuple[int, str], np.ndarray] = {}
        for chain, middle, tail, out in zip(chains, middles, tails, outs):
            block = middle[start : start + _BLOCK_PIXELS]
            if len(chain.steps) == 1:
                result = block.copy()
            else:
                # Transfer._evaluate64, step by step, sharing the second step's terms.
                second = chain.steps[1]
                terms_key = (id(middle), second.method)
                if terms_key not in expansions:
                    expansions[terms_key] = _SPECS[second.method].expand(block)
                result = np.einsum("nk,ck->nc", expansions[terms_key], second.params)
                if tail is not None:
                    result = tail._evaluate64(result)
            np.clip(result, 0.0, 255.0, out=result)
            # As Transfer.apply (float32 out) then clip(rint(...)) to uint8.
            out[start : start + _BLOCK_PIXELS] = np.clip(np.rint(result.astype(np.float32)), 0, 255)
        del expansions
    return outs


_PIXEL = np.dtype((np.void, 3))
"""One 8-bit RGB / BGR pixel as a single item: row copies move 3 bytes at once."""


def _distinct_colours(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Return the distinct colours of ``(n, 3)`` uint8 pixels and each pixel's index.

    ``colours[inverse]`` equals ``pixels``; a presence table over the 2^24 colours
    (no sort), colours in increasing ``(r, g, b)`` order.
    """
    codes = (pixels[:, 0].astype(np.int32) << 16) | (pixels[:, 1].astype(np.int32) << 8) | pixels[:, 2]
    present = np.zeros(1 << 24, dtype=np.bool_)
    present[codes] = True
    unique = np.flatnonzero(present).astype(np.int32)
    del present
    lookup = np.empty(1 << 24, dtype=np.int32)
    lookup[unique] = np.arange(unique.size, dtype=np.int32)
    inverse = lookup[codes]
    colours = np.stack([unique >> 16, (unique >> 8) & 255, unique & 255], axis=-1).astype(np.uint8)
    return colours, inverse


def fit_chain(source: dict[str, Any], target: dict[str, Any], pipeline: Pipeline):  # noqa: ANN201
    """
    Return the transfer of two prepared images' patch colours, every map fitted.

    ``srgb8`` (poly11, as published): source -> ColorChecker 2005 standard ->
    target. ``linear``: a direct source -> target fit in linear camera RGB (no
    camera-independent linear standard exists; see
    :func:`ccharmony.transfer.fit_transitive`).
    """
    from ccharmony.transfer import fit_transitive

    key = "patches_srgb8" if pipeline.domain == "srgb8" else "patches_linear"
    return fit_transitive(pipeline.method, np.asarray(source[key]), np.asarray(target[key]))


MAP_PUBLISHED = "published"
MAP_REFIT = "refit"


def chain_with_maps(
    source: dict[str, Any], target: dict[str, Any], pipeline: Pipeline,
    published: dict[str, dict[str, np.ndarray]],
) -> tuple[Any, str, str]:
    """
    Return a composite's transfer and where its two maps came from.

    With ``maps: published`` (:attr:`Pipeline.maps`), the source -> standard
    step is the source image's published forward map when it has one, and
    the standard -> target step the target image's published reverse map
    when it has one (:func:`ccharmony.transfer.published.published_transfer`
    when both do); a step without a published map is fitted by least squares
    on the patch colours and the ColorChecker 2005 standard, exactly as
    :func:`fit_chain`. With ``maps: refit`` this is :func:`fit_chain`.

    Returns
    -------
    transfer, forward, reverse
        The transfer, and ``"published"`` or ``"refit"`` for each step.

    References
    ----------
    :cite:`Niu2023`
    """
    if pipeline.maps != MAP_PUBLISHED or not (
        source["image"] in published or target["image"] in published
    ):
        return fit_chain(source, target, pipeline), MAP_REFIT, MAP_REFIT
    from ccharmony.io.patch_colors import read_standard_srgb
    from ccharmony.transfer import Transfer, fit

    standard = read_standard_srgb(dtype=np.float64)
    own = published.get(source["image"])
    theirs = published.get(target["image"])
    if own is not None:
        forward, forward_kind = Transfer("poly11", own["forward"], "srgb8"), MAP_PUBLISHED
    else:
        forward, forward_kind = fit(pipeline.method, np.asarray(source["patches_srgb8"]), standard), MAP_REFIT
    if theirs is not None:
        reverse, reverse_kind = Transfer("poly11", theirs["reverse"], "srgb8"), MAP_PUBLISHED
    else:
        reverse, reverse_kind = fit(pipeline.method, standard, np.asarray(target["patches_srgb8"])), MAP_REFIT
    return forward.then(reverse), forward_kind, reverse_kind


def make_composites(
    task: CompositeTask, pipeline: Pipeline
) -> tuple[list[dict[str, Any]], dict[str, bytes | Path], dict[str, float]]:
    """
    Run stage B for one source image: every composite of its foregrounds.

    Returns
    -------
    rows, files, timings
        One metadata row per composite (without the sha256 of files it does not
        produce), the encoded composites by relative path (bytes, or staged
        files: :func:`stage_file`), stage times in seconds.
    """
    from ccharmony.dataset.reapply import apply_record_to_foreground, transfer_record
    from ccharmony.illuminant import angular_error
    from ccharmony.io.encode import encode_image

    timings: dict[str, float] = {}
    start = time.perf_counter()
    source = task.source
    ident = source["id"]
    # The real image in BGR order, memory-mapped: composites are assembled in one
    # buffer, changing only the foreground pixels from one target to the next.
    real_bgr = np.load(task.cache_dir / f"{ident}.real-bgr.npy", mmap_mode="r")
    height, width = real_bgr.shape[:2]
    # One item per pixel; np.take / np.put: about twice as fast as fancy indexing.
    real_pixels = real_bgr.reshape(-1, 3).view(_PIXEL)[:, 0]
    buffer = np.array(real_bgr)
    buffer_pixels = buffer.reshape(-1, 3).view(_PIXEL)[:, 0]
    linear: np.ndarray | None = None
    union = np.empty(0, dtype=np.int64)
    if pipeline.domain == "linear":
        linear = np.load(task.cache_dir / f"{ident}.linear.npy", mmap_mode="r")
        union = np.load(task.cache_dir / f"{ident}.union.npy")
    extension = f".{pipeline.image_format}"
    rows: list[dict[str, Any]] = []
    files: dict[str, bytes | Path] = {}
    start = _elapsed(timings, "load", start)
    previous: np.ndarray | None = None
    for letter in sorted(task.targets):
        mask = np.unpackbits(np.load(cache_file(task.cache_dir, ident, letter)), count=height * width)
        inside = np.flatnonzero(mask)  # row-major, the order of real[mask]
        del mask
        if previous is not None:  # the real image back under the last foreground
            np.put(buffer_pixels, previous, np.take(real_pixels, previous))
        previous = inside
        first_steps: dict[tuple[str, bytes], np.ndarray] = {}
        if linear is None:
            # 8-bit sources: map each distinct colour once per target, not each pixel.
            colours_bgr, inverse = _distinct_colours(np.take(real_pixels, inside).view(np.uint8).reshape(-1, 3))
            colours = np.ascontiguousarray(colours_bgr[:, ::-1])
            del colours_bgr
        else:
            pixels = linear[np.searchsorted(union, inside)]
        start = _elapsed(timings, "load", start)
        targets = task.targets[letter]
        fitted = [chain_with_maps(source, target, pipeline, task.published) for target in targets]
        chains = [chain for chain, _, _ in fitted]
        records = [
            transfer_record(chain, domain=pipeline.domain, source_render=source["render"], target_render=target["render"])
            for chain, target in zip(chains, targets)
        ]
        for record, target in zip(records, targets):
            try:
                json.dumps(record, allow_nan=False)
            except ValueError:
                raise DatasetError(
                    f"{source['image']} -> {target['image']}: the {pipeline.method} transfer has non-finite "
                    "parameters (degenerate patch colours); check both images' charts"
                ) from None
        start = _elapsed(timings, "fit", start)
        tables = _map_colours_many(colours, chains, first_steps) if linear is None else []
        start = _elapsed(timings, "transfer", start)
        for k, target in enumerate(targets, start=1):
            start = time.perf_counter()
            record = records[k - 1]
            if linear is None:
                mapped_bgr = np.ascontiguousarray(tables[k - 1][:, ::-1])
                tables[k - 1] = np.empty((0, 3), np.uint8)  # free the RGB table
                mapped = np.take(mapped_bgr.view(_PIXEL)[:, 0], inverse)
            else:
                mapped_bgr = np.ascontiguousarray(apply_record_to_foreground(pixels, record)[:, ::-1])
                mapped = mapped_bgr.view(_PIXEL)[:, 0]
            # ccharmony.composite.composite with a binary mask: the real image with
            # the mapped foreground pixels put in place.
            np.put(buffer_pixels, inside, mapped)
            del mapped_bgr, mapped
            start = _elapsed(timings, "transfer", start)
            name = composite_name(ident, letter, k, extension=extension)
            data = encode_image(
                buffer, extension, quality=pipeline.jpeg_quality, chroma_444=pipeline.jpeg_chroma_444, bgr=True
            )
            start = _elapsed(timings, "encode_composites", start)
            files[f"composite_images/{name}"] = stage_file(data, name, task.stage_dir)
            start = _elapsed(timings, "write", start)
            digest = _sha256(data)
            start = _elapsed(timings, "hash", start)
            rows.append(
                {
                    "composite_file_name": f"composite_images/{name}",
                    "real_file_name": f"real_images/{real_name(ident)}",
                    "mask_file_name": f"masks/{mask_name(ident, letter)}",
                    "image_id": ident,
                    "foreground_id": f"{ident}_{letter}",
                    "k": k,
                    "split": task.splits[letter],
                    "source_image": source["image"],
                    "target_image": target["image"],
                    "source_camera": source["camera"],
                    "target_camera": target["camera"],
                    "source_illuminant": source["illuminant"],
                    "target_illuminant": target["illuminant"],
                    "source_illuminant_srgb": source["illuminant_srgb"],
                    "target_illuminant_srgb": target["illuminant_srgb"],
                    "illuminant_angle_deg": float(
                        angular_error(np.asarray(source["illuminant_srgb"]), np.asarray(target["illuminant_srgb"]))
                    ),
                    "method": pipeline.method,
                    "forward_map": fitted[k - 1][1],
                    "reverse_map": fitted[k - 1][2],
                    "foreground_ratio": float(source["foregrounds"][letter]),
                    "width": int(width),
                    "height": int(height),
                    "composite_sha256": digest,
                    "transfer": json.dumps(record, sort_keys=True, separators=(",", ":")),
                }
            )
    timings[PEAK_RSS] = peak_rss_mb()
    return rows, files, timings
