"""
IIH / HT export
===============

Define :func:`export_iih`: a dataset folder in the layout that zhenglab's
Intrinsic Image Harmonization :cite:`Guo2021` and Harmony Transformer
:cite:`Guo2021a` loaders read unchanged.

Both ``data/ihd_dataset.py`` (zhenglab/IntrinsicHarmony and
zhenglab/HarmonyTransformer, the same reading rules) open ``dataset_root +
dataset_name + '_train.txt'`` (``_test.txt`` at test time), join each line to
``dataset_root/composite_images/``, and derive the mask and real image by
string replacement as DoveNet does (``composite_images`` -> ``masks``,
``_<k>.jpg`` -> ``.png``; ``composite_images`` -> ``real_images``,
``_<fg>_<k>.jpg`` -> ``.jpg``). The export is::

    OUT/<Name>_train.txt, OUT/<Name>_test.txt   bare composite names
    OUT/composite_images/<id>_<fg>_<k>.jpg
    OUT/masks/<id>_<fg>.png
    OUT/real_images/<id>.jpg
    OUT/metadata.parquet, DATASET_CARD.md, build.json, card/

with exactly one list per split, so the iSSAM family (one ``*train.txt`` at
the root) reads it too. Files are hard links (symlinks across file systems,
copies with ``copy=True``).

References
----------
-   :cite:`Guo2021` : Guo, Z., Zheng, H., Jiang, Y., Gu, Z., & Zheng, B.
    (2021). Intrinsic Image Harmonization. CVPR 2021, 16367-16376.
-   :cite:`Guo2021a` : Guo, Z., Guo, D., Zheng, H., Gu, Z., Zheng, B., & Dong, J.
    (2021). Image Harmonization With Transformer. ICCV 2021, 14870-14879.
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

__all__ = ["export_iih"]


def export_iih(
    folder: PathType,
    out: PathType,
    *,
    copy: bool = False,
    name: str | None = None,
) -> ExportResult:
    """
    Export a dataset folder for the zhenglab IIH / HT loaders.

    Parameters
    ----------
    folder
        The dataset folder.
    out
        The export folder; it must not exist or be empty, and lie outside
        ``folder``.
    copy
        Copy the files instead of hard-linking them.
    name
        The ``--dataset_name`` the loaders are given (list prefix); default:
        the dataset's name from its list files (``ccHarmony``).

    Returns
    -------
    ExportResult
        ``load`` is the loaders' command line for the export.

    Raises
    ------
    DatasetError
        As :func:`ccharmony.export.dovenet.export_dovenet`.

    References
    ----------
    :cite:`Guo2021`, :cite:`Guo2021a`
    """
    source = read_source(folder)
    target = check_out(source.root, out)
    if COMPOSITE_DIR in str(target):
        raise DatasetError(
            f"--out {out}: the IIH loader replaces '{COMPOSITE_DIR}' anywhere in a path to find masks and "
            "real images, so the export's own path must not contain it; choose another folder"
        )
    list_name = check_name(name if name is not None else source.name, argument="--name")
    placer = FilePlacer(copy=copy)
    with staged_output(target) as staging:
        names = place_ihd_folder(source, staging, placer)
        for split in SPLITS:
            write_text(staging / f"{list_name}_{split}.txt", "".join(f"{line}\n" for line in names[split]))
    return ExportResult(
        format="iih", out=target, samples=source.counts(), placed=dict(placer.placed),
        load=f"python train.py --dataset_root {target}/ --dataset_name {list_name}",
    )
