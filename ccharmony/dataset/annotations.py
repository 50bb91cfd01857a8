"""
Annotation sets
===============

Read an annotation set in the form of ARCHITECTURE.md section 5 (the published
ccHarmony annotations have exactly this form):

-   :class:`AnnotationSet`: masks per image, optional patch colours, chart
    corners, crops and split lists.
-   :func:`read_annotation_set`: index a folder, checking names, duplicates and
    split lists (files are opened later, by the stage that needs them).

::

    <set>/masks/<image>_<fg>.png        (or foreground_masks/, the published name)
    <set>/patch_colors/<image>.csv      optional, ccHarmony row order, 8-bit sRGB values
    <set>/checkers/<image>.json         optional, {"corners": [[x, y] x 4]}
    <set>/crops/<image>.json            optional, {"x", "y", "width", "height"}
    <set>/train_list.txt, test_list.txt optional, one "<image>_<fg>" per line
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ccharmony.dataset.layout import image_id
from ccharmony.errors import AnnotationError, DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["Foreground", "AnnotationSet", "read_annotation_set", "split_foreground_id"]

_MASK_DIRS = ("masks", "foreground_masks")
_LISTS = {"train": "train_list.txt", "test": "test_list.txt"}


def split_foreground_id(foreground_id: str) -> tuple[str, str]:
    """
    Split ``"<image>_<fg>"`` at its last ``"_"``.

    Examples
    --------
    >>> split_foreground_id("Canon1DsMkIII_0010_a")
    ('Canon1DsMkIII_0010', 'a')
    """
    image, separator, foreground = foreground_id.rpartition("_")
    if not separator or not image or not foreground:
        raise AnnotationError(
            f"foreground id {foreground_id!r} must be '<image>_<fg>', e.g. 'IMG_0285_a'"
        )
    return image, foreground


@dataclass(frozen=True)
class Foreground:
    """One annotated foreground: its source image name, its letter and its mask file."""

    image: str
    foreground: str
    mask_path: Path

    @property
    def id(self) -> str:
        """Return ``"<image>_<fg>"`` as the annotation set spells it."""
        return f"{self.image}_{self.foreground}"


@dataclass(frozen=True)
class AnnotationSet:
    """
    Index of an annotation set.

    Parameters
    ----------
    root
        The folder, ``None`` for an empty set.
    foregrounds
        Source image name -> its foregrounds, sorted by letter.
    patch_colors, checkers, crops
        Source image name -> file, for the images that have one.
    splits
        ``"<image>_<fg>"`` -> ``"train"`` or ``"test"``; empty when the set has no lists.
    problems
        Non-fatal findings (list lines naming no mask ...), one line each.
    """

    root: Path | None
    foregrounds: dict[str, tuple[Foreground, ...]]
    patch_colors: dict[str, Path] = field(default_factory=dict)
    checkers: dict[str, Path] = field(default_factory=dict)
    crops: dict[str, Path] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def images(self) -> list[str]:
        """Return the names of the images that have at least one foreground, sorted."""
        return sorted(self.foregrounds)

    def image_split(self, image: str) -> str | None:
        """Return the split of an image's foregrounds from the lists, or ``None``."""
        found = {self.splits[f.id] for f in self.foregrounds.get(image, ()) if f.id in self.splits}
        return found.pop() if len(found) == 1 else None


def _index(folder: Path, suffix: str) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() == suffix and p.is_file()}


def _read_list(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(f"{path}: cannot read split list ({error.__class__.__name__})") from None
    return [line.strip() for line in lines if line.strip()]


def read_annotation_set(path: str | Path) -> AnnotationSet:
    """
    Index an annotation set folder.

    Parameters
    ----------
    path
        The folder holding ``masks/`` (or ``foreground_masks/``) and the optional
        sub-folders and lists.

    Returns
    -------
    AnnotationSet

    Raises
    ------
    AnnotationError
        When the folder or its masks folder is missing, two masks map to the same
        dataset id, a mask name is not ``<image>_<fg>.png``, or a foreground is
        listed in both splits.
    """
    root = Path(path)
    if not root.is_dir():
        raise AnnotationError(f"{root}: annotation folder not found")
    mask_dir = next((root / name for name in _MASK_DIRS if (root / name).is_dir()), None)
    if mask_dir is None:
        raise AnnotationError(f"{root}: no masks/ (or foreground_masks/) folder in the annotation set")

    grouped: dict[str, list[Foreground]] = defaultdict(list)
    seen_ids: dict[tuple[str, str], str] = {}
    for mask_path in sorted(mask_dir.iterdir()):
        if not mask_path.is_file() or mask_path.name.startswith("."):
            continue
        if mask_path.suffix.lower() != ".png":
            raise AnnotationError(f"{mask_path}: masks must be PNG files named <image>_<fg>.png")
        image, foreground = split_foreground_id(mask_path.stem)
        try:
            key = (image_id(image), foreground)
        except DatasetError as error:
            raise AnnotationError(f"{mask_path}: {error}") from None
        if key in seen_ids:
            raise AnnotationError(
                f"{mask_path}: duplicate id {key[0]}_{key[1]} (also from {seen_ids[key]}); "
                "'_' and '-' are the same in dataset ids, rename one image"
            )
        seen_ids[key] = mask_path.name
        grouped[image].append(Foreground(image, foreground, mask_path))

    if not grouped:
        raise AnnotationError(f"{mask_dir}: no mask files")
    # Two image names that differ only by '_' vs '-' would collide as dataset ids.
    by_id: dict[str, str] = {}
    for image in grouped:
        other = by_id.setdefault(image_id(image), image)
        if other != image:
            raise AnnotationError(
                f"{root}: images {other!r} and {image!r} map to the same dataset id {image_id(image)!r}"
            )

    splits: dict[str, str] = {}
    problems: list[str] = []
    known = {f.id for group in grouped.values() for f in group}
    for split, name in _LISTS.items():
        list_path = root / name
        if not list_path.exists():
            continue
        seen: set[str] = set()
        for line in _read_list(list_path):
            if line in seen:
                problems.append(f"{list_path}: duplicate line {line!r} (ignored)")
                continue
            seen.add(line)
            if line in splits and splits[line] != split:
                raise AnnotationError(f"{list_path}: foreground {line!r} is listed in both train and test")
            if line not in known:
                problems.append(f"{list_path}: {line!r} names no mask (ignored)")
                continue
            splits[line] = split

    return AnnotationSet(
        root=root,
        foregrounds={image: tuple(sorted(group, key=lambda f: f.foreground)) for image, group in sorted(grouped.items())},
        patch_colors=_index(root / "patch_colors", ".csv"),
        checkers=_index(root / "checkers", ".json"),
        crops=_index(root / "crops", ".json"),
        splits=splits,
        problems=tuple(problems),
    )
