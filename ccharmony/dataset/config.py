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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["Pipeline", "load_pipeline", "builtin_pipeline", "PIPELINES_DIR", "METHOD_DOMAINS"]

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


@dataclass(frozen=True)
class Pipeline:
    """
    Hold every option of a dataset build.

    The defaults are the paper-faithful construction of ``pipelines/ccharmony.yaml``.

    Parameters
    ----------
    name
        Dataset name, the prefix of the split lists (``<name>train.txt``).
    method
        Colour transfer method: ``poly11`` (published ccHarmony, 8-bit sRGB),
        ``root-poly2`` (Finlayson 2015, linear camera RGB), ``linear3x3`` or
        ``diagonal`` (von Kries), both in linear camera RGB.
    k
        Composites per foreground (published: 10).
    policy
        Target image selection: ``random`` (uniform over the other images, as
        published) or ``diverse`` (spread over illuminant chromaticity).
    same_camera
        Only pick target images taken with the source image's camera.
    min_angle_deg
        ``diverse`` only: minimum angle in degrees between source and target
        illuminants (camera RGB).
    test_fraction
        Share of source images in the test split when the annotations carry no
        lists (seeded split by source image).
    image_format
        ``jpg`` (as iHarmony4 and ccHarmony) or ``png`` for the composites; real
        images are always JPEG (the iSSAM loaders hard-code ``.jpg``).
    jpeg_quality
        JPEG quality, 1-100.
    jpeg_chroma_444
        Encode JPEGs without chroma subsampling (4:4:4) to keep colour edges.
    half_size
        Decode RAW input with 2x2 binning instead of demosaicing.
    detection_max_side
        Longest side of the reduced copy that chart detection works on, pixels.
    crop_margin
        Extra margin in pixels between the chart and the crop that removes it,
        as a fraction of the chart's longer side.
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
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.method not in METHOD_DOMAINS:
            raise ConfigError(
                f"method must be one of {sorted(METHOD_DOMAINS)}, got {self.method!r}"
            )
        if self.policy not in _POLICIES:
            raise ConfigError(f"policy must be one of {_POLICIES}, got {self.policy!r}")
        if self.image_format not in _FORMATS:
            raise ConfigError(f"image_format must be one of {_FORMATS}, got {self.image_format!r}")
        if not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k must be a positive integer, got {self.k!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction must be in (0, 1), got {self.test_fraction!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality!r}")
        if self.detection_max_side < 256:
            raise ConfigError(
                f"detection_max_side must be >= 256 pixels, got {self.detection_max_side!r}"
            )
        if "_" in self.name or not self.name:
            raise ConfigError(f"name must be non-empty and contain no '_', got {self.name!r}")

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
        When the file is missing, is not YAML, is not a mapping, has an unknown
        key or an invalid value.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: pipeline file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{path}: not a readable YAML file ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a pipeline must be a YAML mapping of options, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(Pipeline)} - {"extra"}
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
