"""
DoveNet export
==============

Define :func:`export_dovenet`: a dataset folder as an iHarmony4 root that
DoveNet's loader :cite:`Cong2020` reads unchanged.

DoveNet (``DoveNet/data/iharmony4_dataset.py`` in
bcmi/Image-Harmonization-Dataset-iHarmony4) reads ``dataset_root +
'IHD_train.txt'`` (``IHD_test.txt`` at test time), joins each line such as
``HCOCO/composite_images/c1_1_1.jpg`` to the root, and derives the other two
files by string replacement on the joined path: ``composite_images`` ->
``masks`` and ``_<k>.jpg`` -> ``.png`` for the mask, ``composite_images`` ->
``real_images`` and ``_<fg>_<k>.jpg`` -> ``.jpg`` for the real image. The
export is therefore::

    OUT/IHD_train.txt, OUT/IHD_test.txt     lines "<Name>/composite_images/<file>"
    OUT/<Name>/composite_images/<id>_<fg>_<k>.jpg
    OUT/<Name>/masks/<id>_<fg>.png
    OUT/<Name>/real_images/<id>.jpg
    OUT/<Name>/<Name>_train.txt, <Name>_test.txt   bare names, as iHarmony4's
                                           sub-dataset lists (iSSAM, IIH read these)
    OUT/<Name>/metadata.parquet, DATASET_CARD.md, build.json, card/

Files are hard links to the dataset's own files (symlinks across file systems,
copies with ``copy=True``): no pixel is re-encoded.

References
----------
-   :cite:`Cong2020` : Cong, W., Zhang, J., Niu, L., Liu, L., Ling, Z., Li, W.,
    & Zhang, L. (2020). DoveNet: Deep Image Harmonization via Domain
    Verification. CVPR 2020, 8394-8403. doi:10.1109/CVPR42600.2020.00842
"""

from __future__ import annotations

from ccharmony._types import PathType
from ccharmony.dataset.layout import COMPOSITE_DIR, SPLITS
from ccharmony.errors import DatasetError
from ccharmony.export._links import (
    ExportResult,
    FilePlacer,
    check_out,
    place_ihd_folder,
    staged_output,
    write_text,
)
from ccharmony.export._source import check_name, read_source

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["DOVENET_LISTS", "export_dovenet"]

DOVENET_LISTS = {"train": "IHD_train.txt", "test": "IHD_test.txt"}
"""The list files DoveNet opens at the iHarmony4 root, by split."""


def export_dovenet(
    folder: PathType,
    out: PathType,
    *,
    copy: bool = False,
    name: str | None = None,
) -> ExportResult:
    """
    Export a dataset folder as an iHarmony4 root for DoveNet.

    Parameters
    ----------
    folder
        The dataset folder (``ccharmony build`` output or any iHarmony4-layout
        folder with one list per split).
    out
        The export folder; it must not exist or be empty, and lie outside
        ``folder``.
    copy
        Copy the files instead of hard-linking them.
    name
        Sub-dataset folder name (``HCOCO`` in iHarmony4); default: the
        dataset's name from its list files (``ccHarmony``).

    Returns
    -------
    ExportResult
        ``load`` is DoveNet's training command line for the export.

    Raises
    ------
    DatasetError
        The dataset cannot be read (see
        :func:`ccharmony.export._source.read_source`), ``out`` overlaps it or is
        not empty, the absolute path of ``out`` contains ``composite_images``
        (DoveNet replaces that word anywhere in the path), or a real image is
        not JPEG or a mask not PNG.

    References
    ----------
    :cite:`Cong2020`
    """
    source = read_source(folder)
    target = check_out(source.root, out)
    if COMPOSITE_DIR in str(target):
        raise DatasetError(
            f"--out {out}: DoveNet replaces '{COMPOSITE_DIR}' anywhere in a path to find masks and "
            "real images, so the export's own path must not contain it; choose another folder"
        )
    subset = check_name(name if name is not None else source.name, argument="--name")
    placer = FilePlacer(copy=copy)
    with staged_output(target) as staging:
        names = place_ihd_folder(source, staging / subset, placer)
        for split in SPLITS:
            write_text(staging / subset / f"{subset}_{split}.txt", "".join(f"{line}\n" for line in names[split]))
            write_text(
                staging / DOVENET_LISTS[split],
                "".join(f"{subset}/{COMPOSITE_DIR}/{line}\n" for line in names[split]),
            )
    return ExportResult(
        format="dovenet", out=target, samples=source.counts(), placed=dict(placer.placed),
        load=f"python train.py --dataset_root {target}/ --dataset_mode iharmony4 --model dovenet",
    )
