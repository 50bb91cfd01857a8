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
    <set>/polynomial_matching_coefficients/<image>.npy, <image>_reverse.npy
                                        optional, the published fitted maps
                                        (:mod:`ccharmony.transfer.published`)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ccharmony.dataset.inputs import irregular_kind
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
        Non-fatal findings (list lines naming no mask, a FIFO in masks/ ...), one line each.
    list_files
        ``"train"`` / ``"test"`` -> the split list read, for those present.
    published_maps
        Source image name -> ``(forward, reverse)`` published map files
        (``polynomial_matching_coefficients/<image>.npy`` and
        ``<image>_reverse.npy``), for the images that have both; an image with
        only one of the two is a problem line and uses none.
    """

    def files(self) -> list[Path]:
        """Return every annotation file a build reads (masks, patch colours, corners, crops, lists), sorted."""
        paths = [f.mask_path for group in self.foregrounds.values() for f in group]
        paths += [*self.patch_colors.values(), *self.checkers.values(), *self.crops.values(), *self.list_files.values()]
        paths += [path for pair in self.published_maps.values() for path in pair]
        return sorted(set(paths))

    root: Path | None
    foregrounds: dict[str, tuple[Foreground, ...]]
    patch_colors: dict[str, Path] = field(default_factory=dict)
    checkers: dict[str, Path] = field(default_factory=dict)
    crops: dict[str, Path] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    list_files: dict[str, Path] = field(default_factory=dict)
    published_maps: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    @property
    def images(self) -> list[str]:
        """Return the names of the images that have at least one foreground, sorted."""
        return sorted(self.foregrounds)

    def image_split(self, image: str) -> str | None:
        """Return the split of an image's foregrounds from the lists, or ``None``."""
        found = {self.splits[f.id] for f in self.foregrounds.get(image, ()) if f.id in self.splits}
        return found.pop() if len(found) == 1 else None


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as error:
        raise AnnotationError(f"{folder}: cannot read the folder ({(error.strerror or str(error)).lower()})") from None


def _index(folder: Path, suffix: str, problems: list[str]) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    found = {}
    for path in _entries(folder):
        if path.suffix.lower() != suffix or path.name.startswith("."):
            continue
        kind = irregular_kind(path)
        if kind is None:
            found[path.stem] = path
        elif kind != "a folder":
            problems.append(f"{path}: is {kind}, not an annotation file (ignored)")
    return found


def _read_list(path: Path) -> list[tuple[int, str]]:
    """Return the non-empty lines of a split list with their line numbers (1-based)."""
    from ccharmony.io.files import read_regular_text

    text = read_regular_text(path, what="a split list", error=AnnotationError)
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


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
        When the folder or its masks folder is missing or unreadable, two masks
        map to the same dataset id, a mask name is not ``<image>_<fg>.png``, a
        split list is not a regular UTF-8 file, a foreground is listed in both
        splits, or two foregrounds of one image are listed in different splits
        (the message names the image and both lines).

    Notes
    -----
    Only regular files are read: a FIFO, socket or device among the masks,
    patch colours, corners or crops is reported in
    :attr:`AnnotationSet.problems` and ignored (reading it would block).
    """
    root = Path(path)
    if not root.is_dir():
        raise AnnotationError(f"{root}: annotation folder not found")
    mask_dir = next((root / name for name in _MASK_DIRS if (root / name).is_dir()), None)
    if mask_dir is None:
        raise AnnotationError(f"{root}: no masks/ (or foreground_masks/) folder in the annotation set")

    grouped: dict[str, list[Foreground]] = defaultdict(list)
    seen_ids: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for mask_path in _entries(mask_dir):
        if mask_path.name.startswith("."):
            continue
        kind = irregular_kind(mask_path)
        if kind == "a folder":
            continue
        if kind is not None:
            problems.append(f"{mask_path}: is {kind}, not a mask file (ignored)")
            continue
        if mask_path.suffix.lower() != ".png":
            raise AnnotationError(f"{mask_path}: masks must be PNG files named <image>_<fg>.png")
        try:
            image, foreground = split_foreground_id(mask_path.stem)
            key = (image_id(image), foreground)
        except (AnnotationError, DatasetError) as error:
            raise AnnotationError(f"{mask_path}: {error}; rename the mask (and its photo)") from None
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
    where: dict[str, tuple[Path, int]] = {}
    list_files: dict[str, Path] = {}
    known = {f.id for group in grouped.values() for f in group}
    for split, name in _LISTS.items():
        list_path = root / name
        if not list_path.exists() and not list_path.is_symlink():
            continue
        list_files[split] = list_path
        seen: set[str] = set()
        for number, line in _read_list(list_path):
            if line in seen:
                problems.append(f"{list_path}:{number}: duplicate line {line!r} (ignored)")
                continue
            seen.add(line)
            if line in splits and splits[line] != split:
                first, first_number = where[line]
                raise AnnotationError(
                    f"{list_path}:{number}: foreground {line!r} is listed in both train and test "
                    f"(also {first}:{first_number}); list it in one"
                )
            if line not in known:
                problems.append(f"{list_path}:{number}: {line!r} names no mask (ignored)")
                continue
            splits[line] = split
            where[line] = (list_path, number)
    # All foregrounds of an image share its split: the lists must not cut an image in two.
    for image, group in sorted(grouped.items()):
        listed = sorted((splits[f.id], f.id) for f in group if f.id in splits)
        if len({split for split, _ in listed}) > 1:
            (first_split, first_id), (second_split, second_id) = listed[-1], listed[0]  # train, then test
            first, first_number = where[first_id]
            second, second_number = where[second_id]
            raise AnnotationError(
                f"image {image!r} is in both splits: foreground {first_id!r} in {first}:{first_number} ({first_split}) "
                f"and {second_id!r} in {second}:{second_number} ({second_split}); list all foregrounds of an image "
                "in one split (an image in both would leak into the test)"
            )

    patch_colors = _index(root / "patch_colors", ".csv", problems)
    checkers = _index(root / "checkers", ".json", problems)
    crops = _index(root / "crops", ".json", problems)
    published = _published_maps(root, set(grouped), problems)
    return AnnotationSet(
        root=root,
        foregrounds={image: tuple(sorted(group, key=lambda f: f.foreground)) for image, group in sorted(grouped.items())},
        patch_colors=patch_colors,
        checkers=checkers,
        crops=crops,
        splits=splits,
        problems=tuple(problems),
        list_files=list_files,
        published_maps=published,
    )


def _published_maps(root: Path, images: set[str], problems: list[str]) -> dict[str, tuple[Path, Path]]:
    """Index the published maps of the annotated images: both files, or a problem line and none."""
    from ccharmony.transfer.published import PUBLISHED_MAPS_DIR, REVERSE_SUFFIX

    files = _index(root / PUBLISHED_MAPS_DIR, ".npy", problems)
    maps: dict[str, tuple[Path, Path]] = {}
    for image in sorted(images):
        forward, reverse = files.get(image), files.get(image + REVERSE_SUFFIX)
        if forward is not None and reverse is not None:
            maps[image] = (forward, reverse)
        elif forward is not None or reverse is not None:
            missing = f"{image}.npy" if forward is None else f"{image}{REVERSE_SUFFIX}.npy"
            problems.append(f"{root / PUBLISHED_MAPS_DIR / missing}: missing, so {image} uses no published map "
                            "(its maps are fitted on the patch colours)")
    return maps
