"""
Dataset layout
==============

Define the dataset folder contract (ARCHITECTURE.md section 6) that
:mod:`ccharmony.dataset.builder` writes and :mod:`ccharmony.dataset.verify`
reads:

-   :func:`image_id`: a source image name turned into an id without ``"_"``.
-   :func:`real_name`, :func:`mask_name`, :func:`composite_name`: file names.
-   :func:`parse_composite_name`: the inverse of :func:`composite_name`.
-   :func:`list_file_name`: the split list of a dataset.

The iSSAM family (``iharm.data.hdataset.HDataset``) finds the real image of
composite ``a_b_c.jpg`` as ``real_images/a.jpg`` and its mask as
``masks/a_b.png``, reads exactly one ``*<split>.txt`` list from the folder's
root, and joins each of its lines to ``composite_images/``. So ids contain no
``"_"``, real images are always JPEG, and list lines are bare composite file
names (``"Canon5D-IMG-0285_a_1.jpg"``), not paths.

The split lists are named ``<Name>train.txt`` and ``<Name>test.txt``, without
the ``"_"`` of iHarmony4's ``HCOCO_train.txt``: Hugging Face's
``load_dataset("imagefolder", data_dir=...)`` infers splits from file names in
which ``train``/``test`` follows a separator (``-._ `` or a digit) and would
then take the two lists as the whole dataset. iSSAM's rule (the stem ends with
the split name) holds for both spellings, and every reader here
(:func:`find_split_lists`) accepts both.
"""

from __future__ import annotations

import re
from pathlib import Path

from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "REAL_DIR",
    "MASK_DIR",
    "COMPOSITE_DIR",
    "METADATA_FILE",
    "CARD_FILE",
    "BUILD_FILE",
    "SPLITS",
    "METADATA_COLUMNS",
    "MAP_COLUMNS",
    "BUILT_METADATA_COLUMNS",
    "SPLIT_METADATA_FILES",
    "README_FILE",
    "PUBLISHED_IDS_FILE",
    "MANIFEST_FILE",
    "image_id",
    "real_name",
    "mask_name",
    "composite_name",
    "parse_composite_name",
    "list_file_name",
    "find_split_lists",
]

REAL_DIR = "real_images"
MASK_DIR = "masks"
COMPOSITE_DIR = "composite_images"
METADATA_FILE = "metadata.parquet"
CARD_FILE = "DATASET_CARD.md"
BUILD_FILE = "build.json"
SPLITS = ("train", "test")

METADATA_COLUMNS = (
    # Hugging Face imagefolder reads the three *_file_name columns as image columns.
    "composite_file_name",
    "real_file_name",
    "mask_file_name",
    "image_id",
    "foreground_id",
    "k",
    "split",
    "source_image",
    "target_image",
    "source_camera",
    "target_camera",
    "source_illuminant",
    "target_illuminant",
    "source_illuminant_srgb",
    "target_illuminant_srgb",
    "illuminant_angle_deg",
    "method",
    "foreground_ratio",
    "width",
    "height",
    "composite_sha256",
    "real_sha256",
    "mask_sha256",
    "transfer",
)
"""Columns of ``metadata.parquet``, one row per composite. ``*_illuminant`` are
camera-RGB unit vectors (lists of 3 floats); ``*_illuminant_srgb`` the same
illuminants through each camera's fixed pipeline into linear sRGB, comparable
across cameras; ``illuminant_angle_deg`` is the angle between the latter.
``transfer`` is the composite's transfer record (JSON text, see
:mod:`ccharmony.dataset.reapply`)."""

MAP_COLUMNS = ("forward_map", "reverse_map")
"""Where each of a composite's two maps came from: ``published`` (the annotation
set's published fitted map, ``polynomial_matching_coefficients/``) or ``refit``
(fitted on the patch colours); see :attr:`ccharmony.dataset.config.Pipeline.maps`."""

BUILT_METADATA_COLUMNS = (
    *METADATA_COLUMNS[: METADATA_COLUMNS.index("method") + 1],
    *MAP_COLUMNS,
    *METADATA_COLUMNS[METADATA_COLUMNS.index("method") + 1 :],
)
"""The columns ``ccharmony build`` writes, in order: :data:`METADATA_COLUMNS`
(what every reader may rely on) with :data:`MAP_COLUMNS` after ``method``."""

SPLIT_METADATA_FILES = {split: f"metadata{split}.parquet" for split in ("train", "test")}
"""The rows of each split, the same columns as ``metadata.parquet``: the
metadata files of the card's Hugging Face ``configs`` (a ``load_dataset(DIR)``
with one split per file). No separator before the split word, so that
``load_dataset("imagefolder", data_dir=DIR)`` does not take them for split
files either."""

README_FILE = "README.md"
"""The card again, under the one name that ``datasets.load_dataset(DIR)`` and the
Hugging Face Hub read."""

PUBLISHED_IDS_FILE = "published_ids.csv"
"""One row per foreground: the annotation set's (published) names beside the dataset ids."""

MANIFEST_FILE = "MANIFEST.json"
"""Every file of a finished dataset with its sha256 and size, written last; on an
object store a reader trusts only the files it names (:mod:`ccharmony.dataset.store`)."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_FOREGROUND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")


def image_id(name: str) -> str:
    """
    Turn a source image name into a dataset id: ``"_"`` becomes ``"-"``.

    Parameters
    ----------
    name
        Image name without extension, e.g. ``"Canon1DsMkIII_0010"``.

    Returns
    -------
    str
        The id, e.g. ``"Canon1DsMkIII-0010"``.

    Raises
    ------
    DatasetError
        When the name is empty or has characters other than letters, digits,
        ``"."``, ``"-"`` and ``"_"``.

    Examples
    --------
    >>> image_id("Canon1DsMkIII_0010")
    'Canon1DsMkIII-0010'
    """
    candidate = name.replace("_", "-")
    if not _ID.match(candidate):
        raise DatasetError(
            f"image name {name!r} cannot be a dataset id: use letters, digits, '.', '-' and '_' only"
        )
    return candidate


def _check_foreground(foreground: str) -> str:
    if not _FOREGROUND.match(foreground):
        raise DatasetError(
            f"foreground id {foreground!r} must be letters, digits and '-' (no '_'), e.g. 'a'"
        )
    return foreground


def real_name(image: str) -> str:
    """Return the real image file name of an id (always JPEG, as iSSAM expects).

    >>> real_name("IMG-0285")
    'IMG-0285.jpg'
    """
    return f"{image}.jpg"


def mask_name(image: str, foreground: str) -> str:
    """Return the mask file name of a foreground.

    >>> mask_name("IMG-0285", "a")
    'IMG-0285_a.png'
    """
    return f"{image}_{_check_foreground(foreground)}.png"


def composite_name(image: str, foreground: str, k: int, *, extension: str = ".jpg") -> str:
    """Return the composite file name of the ``k``-th composite (1-based) of a foreground.

    >>> composite_name("IMG-0285", "a", 3)
    'IMG-0285_a_3.jpg'
    """
    if k < 1:
        raise DatasetError(f"composite index k must be >= 1, got {k}")
    return f"{image}_{_check_foreground(foreground)}_{k}{extension}"


def parse_composite_name(name: str) -> tuple[str, str, int]:
    """
    Split a composite file name into ``(image_id, foreground, k)``.

    Raises
    ------
    DatasetError
        When the name does not follow ``<id>_<fg>_<k>.<ext>``.

    Examples
    --------
    >>> parse_composite_name("IMG-0285_a_3.jpg")
    ('IMG-0285', 'a', 3)
    """
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    parts = stem.split("_")
    if len(parts) != 3 or not parts[2].isdigit() or not parts[0] or not parts[1]:
        raise DatasetError(
            f"composite name {name!r} does not follow <image-id>_<foreground>_<k>.jpg "
            "(image ids contain no '_')"
        )
    return parts[0], parts[1], int(parts[2])


def list_file_name(dataset_name: str, split: str) -> str:
    """Return the split list name that the builder writes, e.g. ``ccHarmonytest.txt``.

    >>> list_file_name("ccHarmony", "test")
    'ccHarmonytest.txt'
    """
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    return f"{dataset_name}{split}.txt"


def find_split_lists(folder: str | Path) -> dict[str, list[Path]]:
    """
    Return the split lists in a dataset folder's root, by split.

    A list of split ``s`` is a ``*.txt`` file whose stem ends with ``s`` (the
    iSSAM rule): ``ccHarmonytrain.txt`` and ``HCOCO_train.txt`` alike. iSSAM
    needs exactly one per split; callers check the length.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("IHD_train.txt", "IHD_test.txt", "notes.txt"):
    ...     _ = (folder / name).write_text("")
    >>> {split: [p.name for p in paths] for split, paths in find_split_lists(folder).items()}
    {'train': ['IHD_train.txt'], 'test': ['IHD_test.txt']}
    """
    root = Path(folder)
    files = sorted(p for p in root.glob("*.txt") if p.is_file())
    return {split: [p for p in files if p.stem.endswith(split)] for split in SPLITS}
