"""
Truth of synthetic captures
===========================

Define the readers of what :func:`ccharmony.synth.synthesize` writes:

-   :func:`read_truth`: read a capture's ground-truth JSON.
-   :func:`read_relit`, :class:`RelitTruth`: read a capture's relit truth.
-   :func:`render_relit`: render a capture's scene as another capture would
    have seen it (regenerated from the seed, nothing stored needed).

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ccharmony._types import NDArray, NDArrayFloat, PathType
from ccharmony.errors import AnnotationError
from ccharmony.synth.captures import SynthCapture, synthesize  # noqa: F401 - synthesize: doctests
from ccharmony.synth.scene import generate_scene, material_table, render_scene
from ccharmony.synth.spectra import spectral_response

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["RelitTruth", "read_truth", "read_relit", "render_relit"]


def read_truth(path: PathType) -> dict[str, Any]:
    """
    Read a capture's ground-truth JSON.

    Parameters
    ----------
    path
        ``truth/<image>.json`` written by :func:`synthesize`.

    Returns
    -------
    dict
        Keys include ``name``, ``camera``, ``illuminant`` (camera-RGB unit
        vector of a perfect white), ``illuminant_white_patch`` and
        ``illuminant_neutral_patches`` (the same from the noise-free chart),
        ``patches`` (24 x 3 noise-free linear RGB, code order), ``corners``
        (4 x 2, full-frame pixels), ``crop``, ``foreground_ids``, ``masks``,
        ``exposure``, ``sensor``, ``scene_seed``, ``size``, ``illuminant_name``.

    Raises
    ------
    AnnotationError
        When the file is missing, not JSON or not a truth file.

    Notes
    -----
    Range: ``patches`` linear camera RGB, [0, 1] of the white level, not
    clipped. Corners have pixel centres at integers.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     capture = synthesize(folder, count=1, seed=1, size=(96, 64), relit=False)[0]
    ...     truth = read_truth(capture.truth_path)
    >>> len(truth["patches"]), round(sum(v * v for v in truth["illuminant"]), 6)
    (24, 1.0)
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise AnnotationError(f"{file}: cannot read truth ({error.strerror or error})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnnotationError(f"{file}: truth is not valid JSON ({error})") from error
    required = ("name", "camera", "illuminant", "illuminant_name", "exposure", "scene_seed", "size")
    if not isinstance(data, dict) or any(key not in data for key in required):
        raise AnnotationError(f"{file}: not a ccharmony synth truth file (needs {', '.join(required)})")
    return data


@dataclass(frozen=True)
class RelitTruth:
    """
    Hold the relit truth of one capture's foreground pixels.

    Parameters
    ----------
    rows, cols
        ``(n,)`` pixel coordinates in the cropped frame of every foreground
        pixel (any object).
    crop_shape
        ``(height, width)`` of the cropped frame.
    foreground
        ``(n,)`` index into ``foreground_ids`` of each pixel.
    foreground_ids
        The capture's foreground ids.
    values
        Capture name to ``(n, 3)`` float32 noise-free linear camera RGB: this
        scene under that capture's camera, illuminant and exposure (the
        capture's own name gives its own noise-free rendering).
    """

    rows: NDArray[np.int32]
    cols: NDArray[np.int32]
    crop_shape: tuple[int, int]
    foreground: NDArray[np.uint8]
    foreground_ids: list[str]
    values: dict[str, NDArrayFloat]

    def image(self, capture: str) -> NDArrayFloat:
        """Return ``(H, W, 3)`` float32 of the cropped frame, 0 outside the foregrounds."""
        out = np.zeros((*self.crop_shape, 3), dtype=np.float32)
        out[self.rows, self.cols] = self.values[capture]
        return out


def read_relit(path: PathType) -> RelitTruth:
    """
    Read a capture's relit truth (``truth/<image>_relit.npz``).

    Parameters
    ----------
    path
        The NPZ file written by :func:`synthesize`.

    Returns
    -------
    RelitTruth
        The foreground pixels of this capture's scene rendered as every capture
        of the set would have seen it.

    Raises
    ------
    AnnotationError
        When the file is missing or malformed.

    Notes
    -----
    Range: linear camera RGB, [0, 1] of the target capture's white level,
    noise-free, not clipped; bit-identical to :func:`render_relit` at the same
    pixels. The file stores the scene factorised (per-pixel material and
    shading, per-material reflectance, per-capture spectral response), which
    keeps it small for large sets.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     a, b = synthesize(folder, count=2, seed=5, size=(96, 64))
    ...     relit = read_relit(Path(folder) / "truth" / f"{a.name}_relit.npz")
    >>> sorted(relit.values) == sorted([a.name, b.name])
    True
    """
    file = Path(path)
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise AnnotationError(f"{file}: cannot read relit truth ({error})") from error
    needed = ("foreground_map", "foreground_ids", "material", "shading", "reflectances",
              "captures", "responses")
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise AnnotationError(f"{file}: not a relit truth file (missing {', '.join(missing)})")
    foreground_map = arrays["foreground_map"]
    rows, cols = np.nonzero(foreground_map)
    if rows.size != arrays["material"].size or rows.size != arrays["shading"].size:
        raise AnnotationError(f"{file}: relit truth arrays disagree in length")
    shading = arrays["shading"][:, None]
    values = {}
    for name, K in zip(arrays["captures"].tolist(), arrays["responses"]):
        values[str(name)] = material_table(arrays["reflectances"], K)[arrays["material"]] * shading
    return RelitTruth(
        rows=rows.astype(np.int32), cols=cols.astype(np.int32),
        crop_shape=(int(foreground_map.shape[0]), int(foreground_map.shape[1])),
        foreground=(foreground_map[rows, cols] - 1).astype(np.uint8),
        foreground_ids=[str(v) for v in arrays["foreground_ids"].tolist()],
        values=values,
    )


def _as_truth(value: PathType | Mapping[str, Any] | SynthCapture, *, relative_to: Path | None
              ) -> dict[str, Any]:
    if isinstance(value, SynthCapture):
        return read_truth(value.truth_path)
    if isinstance(value, Mapping):
        return dict(value)
    candidate = Path(value)
    if candidate.suffix != ".json" and relative_to is not None:
        candidate = relative_to / f"{value}.json"
    return read_truth(candidate)


def render_relit(
    truth: PathType | Mapping[str, Any] | SynthCapture,
    target_capture: PathType | Mapping[str, Any] | SynthCapture,
    *,
    crop: bool = True,
) -> NDArrayFloat:
    """
    Render a capture's scene as another capture would have seen it.

    Parameters
    ----------
    truth
        The source capture: its truth JSON path, :func:`read_truth` dict, or
        :class:`SynthCapture`.
    target_capture
        The capture whose camera, illuminant and exposure gain to use: a truth
        JSON path, a truth dict, a :class:`SynthCapture`, or (when ``truth`` is a
        path) an image name looked up beside it.
    crop
        Return the source capture's cropped frame (as the masks); else the
        full frame.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 noise-free linear camera RGB.

    Raises
    ------
    AnnotationError
        When a truth file cannot be read.

    Notes
    -----
    Range: [0, 1] of the target's white level, not clipped. The scene is
    regenerated from its seed, so nothing besides the two truth files is
    needed; ``render_relit(a, a)`` is ``a``'s own noise-free rendering.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     a, b = synthesize(folder, count=2, seed=2, size=(96, 64), relit=False)
    ...     image = render_relit(a.truth_path, b.name)
    >>> image.dtype.name, image.shape[2]
    ('float32', 3)
    """
    source = _as_truth(truth, relative_to=None)
    folder = None
    if isinstance(truth, SynthCapture):
        folder = truth.truth_path.parent
    elif not isinstance(truth, Mapping):
        folder = Path(truth).parent
    target = _as_truth(target_capture, relative_to=folder)
    try:
        size = (int(source["size"][0]), int(source["size"][1]))
        scene_seed = [int(v) for v in source["scene_seed"]]
        K = spectral_response(str(target["camera"]), str(target["illuminant_name"]),
                              gain=float(target["exposure"]["gain"]))
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise AnnotationError(f"truth is missing or has a bad field: {error}") from error
    scene = generate_scene(size, scene_seed)
    return render_scene(scene, K, crop=crop)
