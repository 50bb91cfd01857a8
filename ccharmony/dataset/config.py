"""
Build configuration
===================

Define the typed, frozen configuration of ``ccharmony build`` and its YAML form
(``pipelines/*.yaml``):

-   :class:`Pipeline`: every option of a build, validated on construction.
-   :func:`load_pipeline`: read a YAML file into a :class:`Pipeline`; an unknown
    key is an error.
-   :func:`builtin_pipeline`: the shipped pipelines by name (``ccharmony``, ``linear``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["Pipeline", "load_pipeline", "builtin_pipeline", "PIPELINES_DIR", "METHOD_DOMAINS", "K_MAX", "NAME_PATTERN",
           "MAPS"]

PIPELINES_DIR = Path(__file__).resolve().parents[2] / "pipelines"

METHOD_DOMAINS = {
    "poly11": "srgb8",
    "root-poly2": "linear",
    "linear3x3": "linear",
    "diagonal": "linear",
}
"""The colour domain each transfer method is fitted and applied in: 8-bit sRGB
values of the rendered image (as published) or linear camera RGB."""

_POLICIES = ("random", "diverse")
_FORMATS = ("jpg", "png")

MAPS = ("published", "refit")
"""Values of :attr:`Pipeline.maps`: where a composite's two poly11 maps come from."""

K_MAX = 1000
"""Largest ``k`` accepted (ccHarmony uses 10; a build with fewer other images
than ``k`` records the shortfall per foreground)."""

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}[A-Za-z]$|^[A-Za-z]$")
"""A dataset name: 1-64 letters, digits, ``.`` and ``-``, starting with a letter
or digit and ending with a letter; no ``_``, no path separator, no ``..``."""

# Hugging Face's imagefolder takes a file for a split file when a split word
# (train, test, validation ...) stands between separators in its name; the
# lists are "<name>train.txt", so the name must not hold such a word itself.
_HF_SPLIT_WORD = re.compile(
    r"(?:^|[-._0-9])(train|training|validation|valid|val|dev|test|testing|eval|evaluation)(?=[-._0-9])",
    re.IGNORECASE,
)


def _describe(value: Any) -> str:
    """Show a received value with its YAML type, so that ``"no"`` and ``no`` differ in a message."""
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )
    shown = repr(value) if not isinstance(value, bool) else str(value).lower()
    if len(shown) > 200:  # a whole path is shown; a pasted document is not
        shown = shown[:197] + "..."
    return f"{shown} ({kind})"


def _check_name(value: Any) -> None:
    if not isinstance(value, str) or not NAME_PATTERN.match(value) or ".." in value:
        raise ConfigError(
            f"name must be a dataset name (1-64 letters, digits, '.' and '-', starting with a letter or digit and "
            f"ending with a letter; no '_', '/' or '..'), got {_describe(value)}"
        )
    word = _HF_SPLIT_WORD.search(value)
    if word:
        raise ConfigError(
            f"name must not hold the split word {word.group(1)!r} between separators (Hugging Face would take "
            f"the split lists {value}train.txt / {value}test.txt for split files), got {value!r}"
        )


def _check_bool(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false (a YAML boolean, unquoted), got {_describe(value)}")


def _check_int(key: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{key} must be an integer from {low} to {high}, got {_describe(value)}")


def _check_number(key: str, value: Any, low: float, high: float, *, open_interval: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = low < value < high if open_interval else low <= value <= high
    if not ok:
        bounds = f"between {low:g} and {high:g} (both excluded)" if open_interval else f"from {low:g} to {high:g}"
        raise ConfigError(f"{key} must be a number {bounds}, got {_describe(value)}")


def _check_choice(key: str, value: Any, choices: tuple[str, ...] | list[str]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, got {_describe(value)}")


@dataclass(frozen=True)
class Pipeline:
    """
    Hold every option of a dataset build.

    The defaults are the paper-faithful construction of ``pipelines/ccharmony.yaml``.
    Every value is type-checked on construction (a string ``"no"`` is not a
    boolean, ``true`` and ``95.7`` are not integers) and must lie in its
    range; a value out of range is an error, never clamped.

    Parameters
    ----------
    name
        Dataset name, the prefix of the split lists (``<name>train.txt``):
        :data:`NAME_PATTERN` (1-64 letters, digits, ``.`` and ``-``, ending
        with a letter; no ``_``, no path separator), and no split word such as
        ``test`` between separators (Hugging Face's split inference).
    method
        Colour transfer method: ``poly11`` (published ccHarmony, 8-bit sRGB),
        ``root-poly2`` (Finlayson 2015, linear camera RGB), ``linear3x3`` or
        ``diagonal`` (von Kries), both in linear camera RGB.
    k
        Composites per foreground (published: 10), 1 to :data:`K_MAX`.
    policy
        Target image selection: ``random`` (uniform over the other images, as
        published) or ``diverse`` (spread over illuminant chromaticity).
    same_camera
        Only pick target images taken with the source image's camera (boolean).
    min_angle_deg
        ``diverse`` only: minimum angle in degrees between source and target
        illuminants (linear sRGB), 0 to 180.
    test_fraction
        Share of source images in the test split when the annotations carry no
        lists (seeded split by source image), strictly between 0 and 1.
    image_format
        ``jpg`` (as iHarmony4 and ccHarmony) or ``png`` for the composites; real
        images are always JPEG (the iSSAM loaders hard-code ``.jpg``).
    jpeg_quality
        JPEG quality, an integer from 1 to 100.
    jpeg_chroma_444
        Encode JPEGs without chroma subsampling (4:4:4) to keep colour edges (boolean).
    half_size
        Decode RAW input with 2x2 binning instead of demosaicing (boolean).
    detection_max_side
        Longest side of the reduced copy that chart detection works on, pixels,
        256 to 65536.
    crop_margin
        Gap between the chart and the crop that removes it: below 1, a fraction
        of the frame's longer side; from 1, pixels (0 to 10000).
    maps
        ``published`` (paper-faithful): an image with both published fitted
        maps in the annotation set (``polynomial_matching_coefficients/<image>.npy``
        and ``<image>_reverse.npy``, :mod:`ccharmony.transfer.published`) uses
        them, source -> standard with the source's forward map and standard ->
        target with the target's reverse map; a map that is not published is
        fitted on the patch colours. ``refit``: every map is fitted on the patch
        colours. ``published`` needs ``method: poly11`` (the published maps are
        poly11 in 8-bit sRGB). Each composite records which it used
        (``forward_map``, ``reverse_map`` in ``metadata.parquet``).
    """

    name: str = "ccHarmony"
    method: str = "poly11"
    k: int = 10
    policy: str = "random"
    same_camera: bool = False
    min_angle_deg: float = 0.0
    test_fraction: float = 0.3
    image_format: str = "jpg"
    jpeg_quality: int = 95
    jpeg_chroma_444: bool = True
    half_size: bool = False
    detection_max_side: int = 1024
    crop_margin: float = 0.05
    maps: str = "published"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_choice("method", self.method, sorted(METHOD_DOMAINS))
        _check_int("k", self.k, 1, K_MAX)
        _check_choice("policy", self.policy, _POLICIES)
        _check_bool("same_camera", self.same_camera)
        _check_number("min_angle_deg", self.min_angle_deg, 0.0, 180.0)
        _check_number("test_fraction", self.test_fraction, 0.0, 1.0, open_interval=True)
        _check_choice("image_format", self.image_format, _FORMATS)
        _check_int("jpeg_quality", self.jpeg_quality, 1, 100)
        _check_bool("jpeg_chroma_444", self.jpeg_chroma_444)
        _check_bool("half_size", self.half_size)
        _check_int("detection_max_side", self.detection_max_side, 256, 65536)
        _check_number("crop_margin", self.crop_margin, 0.0, 10000.0)
        _check_choice("maps", self.maps, MAPS)
        if self.maps == "published" and self.method != "poly11":
            raise ConfigError(
                f"maps: published needs method poly11 (the published ccHarmony maps are poly11 in 8-bit sRGB), "
                f"got method {self.method!r}; set maps: refit"
            )
        # Floats as floats (an integer 3 in a YAML file means 3.0): to_dict and the build key see one form.
        for key in ("min_angle_deg", "test_fraction", "crop_margin"):
            object.__setattr__(self, key, float(getattr(self, key)))

    @property
    def domain(self) -> str:
        """Return ``srgb8`` or ``linear``: where :attr:`method` is fitted and applied."""
        return METHOD_DOMAINS[self.method]

    def to_dict(self) -> dict[str, Any]:
        """Return the options as a JSON-safe dict (without :attr:`extra`)."""
        data = dataclasses.asdict(self)
        data.pop("extra")
        return data

    def replace(self, **changes: Any) -> Pipeline:
        """Return a copy with the named fields changed (``None`` values are ignored)."""
        changes = {key: value for key, value in changes.items() if value is not None}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown pipeline option(s) {sorted(unknown)}")
        return dataclasses.replace(self, **changes)


def load_pipeline(path: str | Path) -> Pipeline:
    """
    Read a pipeline YAML file.

    Raises
    ------
    ConfigError
        When the file is missing or not a regular file, is not YAML, is not a
        mapping, has an unknown key, or a value of the wrong type or out of its
        range (one line: the file, the key, the value received and what is
        accepted).
    """
    from ccharmony.io.files import read_regular_text

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: pipeline file not found")
    # A regular file only: a FIFO named as the pipeline would block the build.
    text = read_regular_text(path, what="a pipeline YAML file", error=ConfigError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{path}: not a readable YAML file ({first})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a readable YAML file (nested too deeply)") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a pipeline must be a YAML mapping of options, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(Pipeline)} - {"extra"}
    strange = sorted(repr(key) for key in data if not isinstance(key, str))
    if strange:
        raise ConfigError(f"{path}: keys must be option names, got {', '.join(strange)}; valid keys are {sorted(known)}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; valid keys are {sorted(known)}")
    try:
        return Pipeline(**data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except TypeError as error:
        raise ConfigError(f"{path}: {error}") from None


def builtin_pipeline(name: str) -> Pipeline:
    """Return a shipped pipeline by name (``ccharmony`` or ``linear``) or by path."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return load_pipeline(candidate)
    path = PIPELINES_DIR / f"{name}.yaml"
    if not path.exists():
        choices = sorted(p.stem for p in PIPELINES_DIR.glob("*.yaml"))
        raise ConfigError(f"unknown pipeline {name!r}; shipped pipelines are {choices} or give a .yaml path")
    return load_pipeline(path)
