"""
Synthetic capture sets
======================

Define the writer of a synthetic capture set and the readers of its truth:

-   :class:`SynthCapture`: one written capture.
-   :func:`synthesize`: draw, render and write ``count`` captures (DNG, ground
    truth, annotation set, relit truth).

The readers of the truth live in :mod:`ccharmony.synth.truth`.

Folder written by :func:`synthesize`::

    raw/<image>.dng                      uncompressed DNG, CFA mosaic
    truth/<image>.json                   ground truth (see read_truth)
    truth/<image>_relit.npz              relit truth (optional, see read_relit)
    annotations/masks/<image>_<fg>.png   0/255, 3 equal channels, cropped frame
    annotations/crops/<image>.json       {"x", "y", "width", "height"}
    annotations/checkers/<image>.json    {"corners": [[x, y] x 4]}
    annotations/train_list.txt           "<image>_<fg>" per line (~70 % of images)
    annotations/test_list.txt            the other images' foregrounds
    synth.json                           seed, size, count and the capture list

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import secrets
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from ccharmony import __version__
from ccharmony._types import NDArray, NDArrayFloat, PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.io.atomic import atomic_write_bytes, atomic_write_text
from ccharmony.io.dng import CFA_PATTERNS, write_dng
from ccharmony.synth.scene import Scene, generate_scene, material_table
from ccharmony.synth.sensor import SensorSettings, expose
from ccharmony.synth.spectra import (
    CAMERAS,
    ILLUMINANT_SETS,
    SPECTRAL_SHAPE,
    camera_spec,
    chart_reflectances,
    illuminant_family,
    matrix_XYZ_to_camera,
    spectral_response,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "TRUTH_VERSION",
    "MAX_SIDE",
    "MAX_PIXELS",
    "MAX_COUNT",
    "MAX_SEED",
    "SynthCapture",
    "synthesize",
]

LOGGER = logging.getLogger(__name__)

TRUTH_VERSION: Final[int] = 1
"""Version of the truth JSON / relit NPZ layout."""

MAX_SIDE: Final[int] = 16384
"""Largest capture width or height, pixels."""

MAX_PIXELS: Final[int] = 100_000_000
"""Largest capture, width x height: rendering takes about 40 bytes per pixel at its
peak (a 6-megapixel capture with its relit truth: 0.44 GB resident, measured), so
4 GB at the limit; the largest single-shot camera sensors are 100-150 megapixels."""

MAX_COUNT: Final[int] = 100_000
"""Most captures one call writes."""

MAX_SEED: Final[int] = 2**63 - 1
"""Seeds are integers from 0 to this (NumPy's seed sequences take non-negative integers)."""

_SET_ENTRIES: Final[frozenset[str]] = frozenset({"raw", "truth", "annotations", "synth.json"})
"""What a capture set folder holds at its top level."""

_BLACK_LEVELS: Final[tuple[int, ...]] = (512, 1024, 2048)
_WHITE_LEVEL: Final[int] = 16383
_ZIP_DATE: Final[tuple[int, int, int, int, int, int]] = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, eq=False)
class SynthCapture:
    """
    Describe one written synthetic capture.

    Parameters
    ----------
    name
        Image name, ``Synth<camera>-<number>`` (no ``_``).
    dng_path
        The DNG file.
    truth_path
        The ground-truth JSON file.
    camera
        Camera name, a key of :data:`~ccharmony.synth.spectra.CAMERAS`.
    illuminant
        ``(3,)`` float64 camera-RGB unit vector of the illuminant (the camera's
        response to a perfect white reflector, L2 = 1).
    corners
        ``(4, 2)`` float64 chart body corners, full-frame pixels, in the order
        next to dark skin, bluish green, black, white.
    foreground_ids
        The foreground ids (``["a"]`` or ``["a", "b"]``).
    """

    name: str
    dng_path: Path
    truth_path: Path
    camera: str
    illuminant: NDArray[np.float64]
    corners: NDArray[np.float64]
    foreground_ids: list[str]


@dataclass(frozen=True)
class _CaptureParameters:
    """Everything drawn for a capture before its scene (cheap, picklable)."""

    index: int
    name: str
    camera: str
    illuminant: str
    exposure_level: float
    exposure_gain: float
    sensor: SensorSettings
    scene_seed: tuple[int, int, int]
    noise_seed: tuple[int, int, int]
    size: tuple[int, int]


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    return vector / np.linalg.norm(vector)


def _draw_parameters(seed: int, index: int, size: tuple[int, int],
                     cameras: Sequence[str]) -> _CaptureParameters:
    rng = np.random.default_rng([seed, index, 0])
    camera = str(cameras[int(rng.integers(len(cameras)))])
    families = list(ILLUMINANT_SETS)
    family = families[int(rng.integers(len(families)))]
    members = ILLUMINANT_SETS[family]
    illuminant = members[int(rng.integers(len(members)))]
    if rng.uniform() < 0.1:
        level = float(rng.uniform(0.9, 0.99))
    else:
        level = float(math.exp(rng.uniform(math.log(0.05), math.log(0.9))))
    sensor = SensorSettings(
        cfa_pattern=list(CFA_PATTERNS)[int(rng.integers(len(CFA_PATTERNS)))],
        black_level=_BLACK_LEVELS[int(rng.integers(len(_BLACK_LEVELS)))],
        white_level=_WHITE_LEVEL,
        conversion_gain=round(float(math.exp(rng.uniform(math.log(0.25), math.log(4.0)))), 6),
        read_noise=round(float(rng.uniform(1.5, 6.0)), 6),
    )
    # exposure is set on the chart's white patch (index 18) before the chart's lighting
    RGB_white = chart_reflectances()[18] @ spectral_response(camera, illuminant)
    # rounded to what the truth JSON stores, so that re-rendering from the JSON is bit-exact
    gain = float(f"{level / float(RGB_white.max()):.9g}")
    level = float(f"{level:.9g}")
    name = f"Synth{camera_spec(camera).short}-{index + 1:04d}"
    return _CaptureParameters(
        index=index, name=name, camera=camera, illuminant=illuminant,
        exposure_level=level, exposure_gain=gain, sensor=sensor,
        scene_seed=(seed, index, 1), noise_seed=(seed, index, 2), size=size,
    )


def _json_number(value: float) -> float | int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("bool is not a number here")
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"non-finite number in the truth: {number}")
    return float(f"{number:.9g}")


def _json_ready(value: Any) -> Any:
    """Return ``value`` with every float at 9 significant digits (fixed formatting)."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, str):
        return bool(value) if isinstance(value, np.bool_) else value
    if isinstance(value, Path):
        return value.as_posix()
    return _json_number(value)


def _dump_json(value: Any) -> str:
    return json.dumps(_json_ready(value), sort_keys=True, indent=1, ensure_ascii=True) + "\n"


def _png_bytes(mask: NDArray[np.bool_]) -> bytes:
    import cv2

    image = np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=2)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8
        raise DatasetError("cannot encode a mask as PNG")
    return encoded.tobytes()


def _npz_bytes(arrays: Mapping[str, NDArray]) -> bytes:
    """Write arrays as an NPZ (zip of .npy) with fixed timestamps, so the bytes are reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _mosaic_signal(scene: Scene, K: NDArray[np.float64], cfa_pattern: str) -> NDArrayFloat:
    """Noise-free CFA signal: the same numbers as ``mosaic(render_scene(...))``, with less memory."""
    table = np.ascontiguousarray(material_table(scene.reflectances, K).T)
    pattern = CFA_PATTERNS[cfa_pattern]
    signal = np.empty(scene.material.shape, dtype=np.float32)
    for position, channel in enumerate(pattern):
        dy, dx = divmod(position, 2)
        signal[dy::2, dx::2] = table[channel][scene.material[dy::2, dx::2]]
        signal[dy::2, dx::2] *= scene.shading[dy::2, dx::2]
    return signal


def _render_capture(parameters: _CaptureParameters, everyone: Sequence[_CaptureParameters],
                    out_dir: str, relit: bool) -> dict[str, Any]:
    """Render and write one capture; return the fields of its :class:`SynthCapture`."""
    out = Path(out_dir)
    name = parameters.name
    scene = generate_scene(parameters.size, parameters.scene_seed)
    K = spectral_response(parameters.camera, parameters.illuminant, gain=parameters.exposure_gain)
    signal = _mosaic_signal(scene, K, parameters.sensor.cfa_pattern)
    raw = expose(signal, parameters.sensor, np.random.default_rng(parameters.noise_seed))
    del signal
    RGB_perfect_white = np.ones(K.shape[0]) @ K
    spec = camera_spec(parameters.camera)
    dng_path = out / "raw" / f"{name}.dng"
    write_dng(
        dng_path, raw,
        cfa_pattern=parameters.sensor.cfa_pattern,
        black_level=parameters.sensor.black_level,
        white_level=parameters.sensor.white_level,
        colour_matrix=matrix_XYZ_to_camera(parameters.camera),
        as_shot_neutral=RGB_perfect_white,
        make=spec.make, model=spec.model,
        unique_camera_model=f"{spec.make} {spec.model}",
    )
    clipped_fraction = float(np.mean(raw >= parameters.sensor.white_level))
    del raw

    x, y, w, h = scene.crop
    foreground_ids = sorted(scene.masks)
    mask_files = {}
    for fg_id in foreground_ids:
        mask_path = out / "annotations" / "masks" / f"{name}_{fg_id}.png"
        atomic_write_bytes(mask_path, _png_bytes(scene.masks[fg_id][y:y + h, x:x + w]))
        mask_files[fg_id] = mask_path.relative_to(out).as_posix()
    corners = scene.corners
    atomic_write_text(out / "annotations" / "crops" / f"{name}.json",
                      _dump_json({"x": x, "y": y, "width": w, "height": h}))
    atomic_write_text(out / "annotations" / "checkers" / f"{name}.json",
                      _dump_json({"corners": corners}))

    patches = scene.chart_gain * (scene.reflectances[:24] @ K)
    relit_file = None
    if relit:
        relit_path = out / "truth" / f"{name}_relit.npz"
        foreground_map = np.zeros((h, w), dtype=np.uint8)
        for number, fg_id in enumerate(foreground_ids, start=1):
            foreground_map[scene.masks[fg_id][y:y + h, x:x + w]] = number
        rows, cols = np.nonzero(foreground_map)
        arrays: dict[str, NDArray] = {
            "version": np.array(TRUTH_VERSION, dtype=np.int32),
            "foreground_map": foreground_map,
            "foreground_ids": np.array(foreground_ids),
            "material": scene.material[y:y + h, x:x + w][rows, cols],
            "shading": scene.shading[y:y + h, x:x + w][rows, cols].astype(np.float32),
            "reflectances": scene.reflectances,
            "captures": np.array([other.name for other in everyone]),
            "responses": np.stack([
                spectral_response(other.camera, other.illuminant, gain=other.exposure_gain)
                for other in everyone
            ]),
        }
        atomic_write_bytes(relit_path, _npz_bytes(arrays))
        relit_file = relit_path.relative_to(out).as_posix()

    illuminant = _unit(RGB_perfect_white)
    truth = {
        "version": TRUTH_VERSION,
        "generator": f"ccharmony {__version__}",
        "name": name,
        "camera": parameters.camera,
        "make": spec.make,
        "model": spec.model,
        "size": list(parameters.size),
        "scene_seed": list(parameters.scene_seed),
        "noise_seed": list(parameters.noise_seed),
        "spectral_shape": list(SPECTRAL_SHAPE),
        "illuminant_name": parameters.illuminant,
        "illuminant_family": illuminant_family(parameters.illuminant),
        "illuminant": illuminant,
        "illuminant_white_patch": _unit(patches[18]),
        "illuminant_neutral_patches": _unit(np.mean([_unit(p) for p in patches[18:24]], axis=0)),
        "as_shot_neutral": RGB_perfect_white / RGB_perfect_white[1],
        "colour_matrix": matrix_XYZ_to_camera(parameters.camera),
        "patches": patches,
        "corners": corners,
        "corner_order": ["dark skin", "bluish green", "black", "white"],
        "chart_gain": scene.chart_gain,
        "crop": {"x": x, "y": y, "width": w, "height": h},
        "foreground_ids": foreground_ids,
        "masks": mask_files,
        "exposure": {"level": parameters.exposure_level, "gain": parameters.exposure_gain,
                     "clipped_fraction": clipped_fraction},
        "sensor": {
            "cfa_pattern": parameters.sensor.cfa_pattern,
            "black_level": parameters.sensor.black_level,
            "white_level": parameters.sensor.white_level,
            "conversion_gain": parameters.sensor.conversion_gain,
            "read_noise": parameters.sensor.read_noise,
        },
        "scene": scene.description,
        "dng": dng_path.relative_to(out).as_posix(),
        "relit": relit_file,
    }
    truth_path = out / "truth" / f"{name}.json"
    atomic_write_text(truth_path, _dump_json(truth))
    return {
        "name": name, "dng_path": dng_path, "truth_path": truth_path, "camera": parameters.camera,
        "illuminant": illuminant, "corners": np.asarray(corners, dtype=np.float64),
        "foreground_ids": foreground_ids,
    }


def _render_capture_star(arguments: tuple) -> dict[str, Any]:
    return _render_capture(*arguments)


def _split(names: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(len(names))
    n_train = int(round(0.7 * len(names)))
    if len(names) >= 2:
        n_train = min(max(n_train, 1), len(names) - 1)
    train = sorted(names[i] for i in order[:n_train])
    test = sorted(names[i] for i in order[n_train:])
    return train, test


def _settings(seed: int, count: int, size: tuple[int, int], cameras: Sequence[str], relit: bool) -> dict[str, Any]:
    """The part of ``synth.json`` that decides every byte of a set."""
    return {"version": TRUTH_VERSION, "generator": f"ccharmony {__version__}", "seed": int(seed),
            "count": int(count), "size": [int(size[0]), int(size[1])], "cameras": list(cameras), "relit": bool(relit)}


def _describe_settings(settings: Mapping[str, Any]) -> str:
    size = settings.get("size") or ["?", "?"]
    return (f"seed {settings.get('seed')}, count {settings.get('count')}, size {size[0]}x{size[1]}, "
            f"relit {str(settings.get('relit')).lower()}, {settings.get('generator')}")


def _check_folder(out: Path, settings: dict[str, Any], *, overwrite: bool) -> bool:
    """
    Decide whether ``out`` may be written; return whether it must be replaced first.

    An absent or empty folder, or a set written with exactly these settings
    (it gets the same bytes again), is written in place. Another set, or an
    unfinished one (no ``synth.json``), is replaced only with ``overwrite``;
    a folder holding anything else is never touched.
    """
    try:
        entries = sorted(os.listdir(out)) if out.is_dir() else None
    except OSError as error:
        raise DatasetError(f"{out}: cannot read the output folder ({error.strerror or error})") from None
    if os.path.lexists(out) and entries is None:
        raise DatasetError(f"{out}: output path exists and is not a folder")
    if not entries:
        return False
    if not set(entries) <= _SET_ENTRIES:
        raise DatasetError(f"{out}: folder is not empty and is not a synth set (it holds {entries[0]!r}); "
                           "use another --out")
    recorded: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, RecursionError):
        loaded = json.loads((out / "synth.json").read_text(encoding="utf-8"))
        recorded = loaded if isinstance(loaded, dict) else {}
    if recorded and {key: recorded.get(key) for key in settings} == settings:
        return False
    if overwrite:
        return True
    held = (f"a synth set written with {_describe_settings(recorded)}" if recorded
            else "an unfinished synth set (no synth.json)")
    raise DatasetError(f"{out}: holds {held}, not {_describe_settings(settings)}; writing into it would mix "
                       "two sets: use another --out, or pass --overwrite to replace it")


def synthesize(
    out_dir: PathType,
    *,
    count: int,
    seed: int,
    size: tuple[int, int] = (480, 320),
    relit: bool = True,
    cameras: Sequence[str] | None = None,
    workers: int = 1,
    overwrite: bool = False,
) -> list[SynthCapture]:
    """
    Draw, render and write a set of physically based synthetic captures.

    Parameters
    ----------
    out_dir
        Output folder: absent, empty, or a set written with the same settings
        (rewritten with the same bytes). A set written with other settings is
        refused, since writing into it would leave files of two sets under one
        ``synth.json``, unless ``overwrite``.
    count
        Number of captures, 1 to :data:`MAX_COUNT`.
    seed
        Seed, an integer from 0 to :data:`MAX_SEED`; the same seed, count, size
        and cameras give the same bytes.
    size
        ``(width, height)`` of each capture in pixels, even, at least 64, at
        most :data:`MAX_SIDE` a side and :data:`MAX_PIXELS` in all.
    relit
        Also write ``truth/<image>_relit.npz`` (see :func:`read_relit`).
    cameras
        Cameras to draw from (keys of :data:`~ccharmony.synth.spectra.CAMERAS`);
        all by default.
    workers
        Processes to render with; 1 renders in this process.
    overwrite
        Replace a synth set written with other settings (or an unfinished
        one): the new set is written into a temporary sibling folder and
        swapped in by renaming, so the folder never holds files of two sets.
        A folder that is not a synth set is never replaced.

    Returns
    -------
    list of SynthCapture
        The captures, in number order.

    Raises
    ------
    ConfigError
        For a bad count, seed, size, camera or worker number.
    DatasetError
        When a file cannot be written, or ``out_dir`` holds something else
        than a set with these settings (see ``overwrite``).

    Notes
    -----
    Each capture draws (from ``seed`` and its number only): a camera, an
    illuminant (family uniformly, then a member of
    :data:`~ccharmony.synth.spectra.ILLUMINANT_SETS`), an exposure that puts the
    chart's white patch at 5-90 % of the white level (log-uniform; 10 % of
    captures at 90-99 %) times the chart's lighting (0.85-1), a CFA pattern, a
    black level (512, 1024 or 2048; white 16383), shot and read noise, and a
    scene (:func:`~ccharmony.synth.scene.generate_scene`). Linear camera RGB is
    ``gain * sum_l R(l) E(l) S(l)`` times the shading. The split puts about
    70 % of the images (all their foregrounds) in ``train_list.txt``.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     captures = synthesize(folder, count=2, seed=3, size=(96, 64), relit=False)
    ...     [c.name[:5] for c in captures], captures[0].dng_path.is_file()
    (['Synth', 'Synth'], True)
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"count must be a positive integer up to {MAX_COUNT}, got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be an integer from 0 to 2**63-1, got {seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    try:
        width, height = (int(size[0]), int(size[1]))
    except (TypeError, ValueError, IndexError, OverflowError):
        raise ConfigError(f"size must be (width, height), got {size!r}") from None
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise ConfigError(f"size must be even and at least 64x64, got {width}x{height}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ConfigError(
            f"size must be at most {MAX_SIDE} pixels a side and {MAX_PIXELS // 1_000_000} megapixels in all "
            f"(about 40 bytes of memory per pixel), got {width}x{height}"
        )
    chosen = list(CAMERAS) if cameras is None else [camera_spec(c).name for c in cameras]
    if not chosen:
        raise ConfigError("cameras must name at least one camera")
    final = Path(out_dir)
    settings = _settings(int(seed), int(count), (width, height), chosen, bool(relit))
    replace = _check_folder(final, settings, overwrite=overwrite)
    out = final.with_name(f".{final.name}.synth-{secrets.token_hex(4)}") if replace else final
    try:
        captures = _write_set(out, settings, workers=int(workers))
    except BaseException:
        if replace:
            shutil.rmtree(out, ignore_errors=True)
        raise
    if replace:
        # Swap the finished set in: the folder holds the old set or the new one, never a mix.
        old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
        try:
            os.rename(final, old)
            os.rename(out, final)
        except OSError as error:
            raise DatasetError(f"{final}: cannot replace it with the new set ({error.strerror or error}); "
                               f"the new set is in {out}") from None
        shutil.rmtree(old, ignore_errors=True)
        captures = [_moved(capture, out, final) for capture in captures]
    return captures


def _moved(capture: SynthCapture, old: Path, new: Path) -> SynthCapture:
    """The same capture, its paths under ``new`` instead of ``old``."""
    return dataclasses.replace(capture, dng_path=new / capture.dng_path.relative_to(old),
                               truth_path=new / capture.truth_path.relative_to(old))


def _write_set(out: Path, settings: dict[str, Any], *, workers: int) -> list[SynthCapture]:
    """Render and write every capture, the lists and ``synth.json`` (last) into ``out``."""
    seed, count, relit = settings["seed"], settings["count"], settings["relit"]
    width, height = settings["size"]
    chosen = settings["cameras"]
    try:
        for folder in ("raw", "truth", "annotations/masks", "annotations/crops",
                       "annotations/checkers"):
            (out / folder).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"{out}: cannot create the output folder ({error.strerror or error})"
                           ) from error
    # The manifest goes last: a folder without it is an unfinished set.
    with contextlib.suppress(FileNotFoundError):
        (out / "synth.json").unlink()

    everyone = [_draw_parameters(int(seed), index, (width, height), chosen)
                for index in range(int(count))]
    tasks = [(parameters, everyone, str(out), bool(relit)) for parameters in everyone]
    if workers == 1 or count == 1:
        results = []
        for task in tasks:
            results.append(_render_capture(*task))
            LOGGER.info("synth: wrote %s", results[-1]["name"])
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=int(workers)) as pool:
            results = list(pool.map(_render_capture_star, tasks))
    captures = [SynthCapture(**result) for result in results]

    train, test = _split([c.name for c in captures], int(seed))
    by_name = {c.name: c for c in captures}
    for list_name, names in (("train_list.txt", train), ("test_list.txt", test)):
        lines = [f"{name}_{fg}" for name in names for fg in by_name[name].foreground_ids]
        atomic_write_text(out / "annotations" / list_name, "".join(f"{line}\n" for line in lines))
    manifest = {
        **settings,
        "captures": [
            {"name": p.name, "camera": p.camera, "illuminant_name": p.illuminant,
             "exposure_gain": p.exposure_gain, "truth": f"truth/{p.name}.json"}
            for p in everyone
        ],
    }
    atomic_write_text(out / "synth.json", _dump_json(manifest))
    return captures
