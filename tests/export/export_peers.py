"""Each peer's rule for finding a sample's files, written again by us from their loaders (test helpers).

Each function returns, for one split, the ``(composite, mask, real)`` paths as the peer's loader
computes them, quirks included (string operations on the whole path, not on the file name), without
opening the files. The code is ours; the docstrings name the peer file whose rule it reproduces.
"""

from __future__ import annotations

import os.path
from pathlib import Path


def _list_lines(list_file: str | Path) -> list[str]:
    """The lines of a split list with trailing whitespace removed (blank lines kept, as the peers do)."""
    return [line.rstrip() for line in Path(list_file).read_text().splitlines()]


def _derive_by_replacement(composite: str) -> tuple[str, str, str]:
    """DoveNet's derivation: swap the folder name, then cut the ``_<k>`` / ``_<id>_<k>`` tail anywhere in the path.

    The tail pieces come from splitting the *whole path* on ``_`` and every occurrence is replaced
    (``str.replace``), which is what the peers do; a folder name with ``_`` in it can therefore
    change the result, and the tests must see that.
    """
    *_, second_last, last = composite.split("_")
    mask = composite.replace("composite_images", "masks").replace(f"_{last}", ".png")
    real = composite.replace("composite_images", "real_images").replace(f"_{second_last}_{last}", ".jpg")
    return composite, mask, real


def dovenet_entries(dataset_root: str, is_train: bool) -> list[tuple[str, str, str]]:
    """The rule of bcmi/Image-Harmonization-Dataset-iHarmony4 ``DoveNet/data/iharmony4_dataset.py``.

    The list is ``<root>IHD_train.txt`` or ``IHD_test.txt`` (the root is concatenated as a string, so
    it must end with ``/``); each line is joined to the root, and mask and real image follow from
    :func:`_derive_by_replacement`.
    """
    list_file = dataset_root + ("IHD_train.txt" if is_train else "IHD_test.txt")
    return [_derive_by_replacement(os.path.join(dataset_root, line)) for line in _list_lines(list_file)]


def iih_entries(dataset_root: str, dataset_name: str, is_train: bool) -> list[tuple[str, str, str]]:
    """The rule of zhenglab/IntrinsicHarmony ``data/ihd_dataset.py`` (zhenglab/HarmonyTransformer's is the same).

    The list is ``<root><Name>_train.txt`` or ``_test.txt``; each line is joined under
    ``<root>/composite_images/``, and mask and real image follow as in DoveNet.
    """
    list_file = dataset_root + dataset_name + ("_train.txt" if is_train else "_test.txt")
    return [_derive_by_replacement(os.path.join(dataset_root, "composite_images", line))
            for line in _list_lines(list_file)]


def issam_entries(dataset_path: str | Path, split: str) -> list[tuple[str, str, str]]:
    """The rule of SamsungLabs/image_harmonization ``iharm/data/hdataset.py``.

    Exactly one ``*.txt`` in the folder whose stem ends with the split is accepted; for a composite
    ``a_b_k.jpg`` the real image is ``<text before the first '_'>.jpg`` and the mask is
    ``<text before the last '_'>.png`` (file names only, unlike DoveNet).
    """
    root = Path(dataset_path)
    lists = [candidate for candidate in root.glob("*.txt") if candidate.stem.endswith(split)]
    if len(lists) != 1:
        raise AssertionError(f"iSSAM needs exactly one {split} list in {root}, found {lists}")
    entries = []
    for name in (line.strip() for line in lists[0].read_text().splitlines()):
        real = name.partition("_")[0] + ".jpg"
        mask = name.rpartition("_")[0] + ".png"
        entries.append((str(root / "composite_images" / name), str(root / "masks" / mask),
                        str(root / "real_images" / real)))
    return entries


def resolved_fraction(entries: list[tuple[str, str, str]]) -> tuple[int, int]:
    """Return ``(entries whose three files exist, entries)``."""
    found = sum(all(os.path.isfile(path) for path in entry) for entry in entries)
    return found, len(entries)


_HF_COUNTS = r"""
import json, sys
import datasets
loaded = datasets.load_dataset(sys.argv[1])
print(json.dumps({split: table.num_rows for split, table in loaded.items()}))
"""

_WDS_COUNTS = r"""
import json, sys
import webdataset as wds
print(json.dumps({split: sum(1 for _ in wds.WebDataset(urls, shardshuffle=False, empty_check=False))
                  for split, urls in json.loads(sys.argv[1]).items()}))
"""


def _child(code: str, *args: str, cache: Path) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(cache),
               HF_DATASETS_CACHE=str(cache / "datasets"))
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def peer_counts(dataset: Path, work: Path, name: str) -> dict[str, dict[str, tuple[int, int]]]:
    """Export ``dataset`` in every format under ``work`` and count what each peer loads, per split.

    Returns ``{reader: {split: (loaded, listed)}}``; ``loaded`` counts entries whose three files exist
    (file formats) or rows / samples read (shard formats).
    """
    import json

    from ccharmony.export import export_dataset
    from ccharmony.export.webdataset import WebDatasetSamples, read_index

    listed = {split: len([line for line in next(dataset.glob(f"*{split}.txt")).read_text().splitlines() if line])
              for split in ("train", "test")}
    for fmt in ("dovenet", "iih", "hf", "webdataset"):
        export_dataset(dataset, work / fmt, format=fmt)
    counts: dict[str, dict[str, tuple[int, int]]] = {}
    for split, is_train in (("train", True), ("test", False)):
        found = {
            "DoveNet (IHD_*.txt at the root)": resolved_fraction(dovenet_entries(f"{work / 'dovenet'}/", is_train)),
            "iSSAM (dovenet export's sub-dataset)": resolved_fraction(issam_entries(work / "dovenet" / name, split)),
            "IIH/HT (<Name>_*.txt)": resolved_fraction(iih_entries(f"{work / 'iih'}/", name, is_train)),
            "iSSAM (iih export)": resolved_fraction(issam_entries(work / "iih", split)),
        }
        for reader, value in found.items():
            counts.setdefault(reader, {})[split] = value
    hf = _child(_HF_COUNTS, str(work / "hf"), cache=work / "hf-cache")
    counts["datasets.load_dataset (hf export)"] = {split: (hf.get(split, 0), listed[split]) for split in listed}
    index = read_index(work / "webdataset")
    urls = {split: [str(work / "webdataset" / s["file"]) for s in entry["shards"]]
            for split, entry in index["splits"].items()}
    wds = _child(_WDS_COUNTS, json.dumps(urls), cache=work / "hf-cache")
    counts["webdataset.WebDataset"] = {split: (wds[split], listed[split]) for split in listed}
    counts["ccharmony WebDatasetSamples"] = {
        split: (sum(1 for _ in WebDatasetSamples(work / "webdataset", split, size=64)), listed[split])
        for split in listed
    }
    return counts
