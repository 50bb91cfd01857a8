"""The ``webdataset`` export: read by the ``webdataset`` package and by our trainer's reader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from ccharmony.errors import DatasetError
from ccharmony.export import export_webdataset
from ccharmony.export.webdataset import WebDatasetSamples, iter_webdataset, read_index
from ccharmony.harmonization.data import HarmonizationDataset

# The webdataset package runs in a child process: it leaves its tar files to the garbage
# collector (a ResourceWarning), which this suite's warnings-are-errors policy would turn into a failure.
_READER = r"""
import hashlib, json, sys
import webdataset as wds
out = {}
for split, urls in json.loads(sys.argv[1]).items():
    samples = []
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
        fields = sorted(k for k in sample if not k.startswith("__"))
        digests = {k: hashlib.sha256(sample[k]).hexdigest() for k in fields}
        samples.append({"key": sample["__key__"], "fields": fields, "sha256": digests,
                        "json": json.loads(sample["json"])})
    decoded = next(iter(wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("rgb8")))
    out[split] = {"samples": samples, "decoded_shape": list(decoded["composite.jpg"].shape),
                  "decoded_dtype": str(decoded["composite.jpg"].dtype)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exported(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wds") / "wds"
    result = export_webdataset(dataset, out, shard_size=5)
    assert result.shards == {"train": 4, "test": 3}  # ceil(18 / 5), ceil(12 / 5)
    return out


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_webdataset_package_reads_every_sample(dataset: Path, exported: Path) -> None:
    pytest.importorskip("webdataset")
    index = read_index(exported)
    urls = {split: [str(exported / shard["file"]) for shard in entry["shards"]]
            for split, entry in index["splits"].items()}
    done = subprocess.run([sys.executable, "-c", _READER, json.dumps(urls)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    frame = pd.read_parquet(dataset / "metadata.parquet").set_index("composite_file_name")
    for split in ("train", "test"):
        names = (dataset / f"tiny{split}.txt").read_text().split()
        samples = got[split]["samples"]
        assert [s["key"] for s in samples] == [name.rsplit(".", 1)[0] for name in names]
        for position, (name, sample) in enumerate(zip(names, samples)):
            row = frame.loc[f"composite_images/{name}"]
            assert sample["fields"] == ["composite.jpg", "json", "mask.png", "real.jpg"]
            assert sample["sha256"]["composite.jpg"] == _sha(dataset / "composite_images" / name)
            assert sample["sha256"]["mask.png"] == _sha(dataset / row["mask_file_name"])
            assert sample["sha256"]["real.jpg"] == _sha(dataset / row["real_file_name"])
            assert sample["json"]["index"] == position and sample["json"]["split"] == split
            assert sample["json"]["transfer"] == row["transfer"]
            assert sample["json"]["source_illuminant"] == list(row["source_illuminant"])
        assert got[split]["decoded_dtype"] == "uint8" and len(got[split]["decoded_shape"]) == 3


@pytest.mark.parametrize("train", [False, True])
def test_reader_yields_the_folder_datasets_samples(dataset: Path, exported: Path, train: bool) -> None:
    for split in ("train", "test"):
        folder = HarmonizationDataset(dataset, split, size=32, train=train, seed=5, cache=False,
                                      illuminant_jitter=0.1 if train else 0.0)
        stream = WebDatasetSamples(exported, split, size=32, train=train, seed=5,
                                   illuminant_jitter=0.1 if train else 0.0)
        for epoch in (0, 1):
            folder.set_epoch(epoch)
            stream.set_epoch(epoch)
            assert stream.names == folder.names
            got = sorted(stream, key=lambda sample: int(sample["index"]))
            assert [int(sample["index"]) for sample in got] == list(range(len(folder))) and len(stream) == len(folder)
            for sample in got:
                expected = folder[int(sample["index"])]
                assert set(sample) == set(expected) == {"images", "masks", "target_images", "index"}
                for key in ("images", "masks", "target_images"):
                    assert sample[key].dtype == torch.float32
                    assert torch.equal(sample[key], expected[key]), (split, epoch, sample["index"], key)


def test_reader_order_shuffles_and_splits_without_loss(exported: Path) -> None:
    plain = [int(s["index"]) for s in WebDatasetSamples(exported, "train", size=16)]
    assert plain == list(range(18))  # evaluation: list order
    shuffled = WebDatasetSamples(exported, "train", size=16, train=True, seed=1, shuffle_buffer=4)
    first = [int(s["index"]) for s in shuffled]
    shuffled.set_epoch(1)
    second = [int(s["index"]) for s in shuffled]
    assert sorted(first) == sorted(second) == plain and first != plain and first != second
    # two ranks: disjoint shards, together every sample once; two DataLoader workers per rank
    seen = []
    for rank in (0, 1):
        part = WebDatasetSamples(exported, "train", size=16, rank=rank, world_size=2)
        loader = DataLoader(part, batch_size=None, num_workers=2)
        indices = [int(sample["index"]) for sample in loader]
        assert len(indices) == len(part)
        seen += indices
    assert sorted(seen) == plain


def test_shards_are_reproducible_and_carry_no_host_details(dataset: Path, exported: Path, tmp_path: Path) -> None:
    import tarfile

    again = tmp_path / "again"
    export_webdataset(dataset, again, shard_size=5)
    for shard in sorted((exported / "train").glob("*.tar")):
        assert (again / "train" / shard.name).read_bytes() == shard.read_bytes()
    with tarfile.open(exported / "test" / "test-000000.tar") as tar:
        members = tar.getmembers()
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o444)}
    assert [m.name for m in members[:4]] == ["Cam0-0000_a_1.composite.jpg", "Cam0-0000_a_1.mask.png",
                                             "Cam0-0000_a_1.real.jpg", "Cam0-0000_a_1.json"]


def test_raw_iteration_and_broken_inputs(exported: Path, tmp_path: Path) -> None:
    samples = list(iter_webdataset(sorted((exported / "test").glob("*.tar"))))
    assert len(samples) == 12 and samples[0]["json"]["index"] == 0
    truncated = tmp_path / "bad.tar"
    truncated.write_bytes((exported / "test" / "test-000000.tar").read_bytes()[:1000])
    with pytest.raises(DatasetError, match=r"bad.tar: unreadable WebDataset shard"):
        list(iter_webdataset([truncated]))
    (tmp_path / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DatasetError, match=r"not a ccharmony-webdataset index \(format 'other'\)"):
        WebDatasetSamples(tmp_path, "train")
    (tmp_path / "index.json").write_text(json.dumps(
        {"format": "ccharmony-webdataset", "splits": {"train": {"shards": [{"file": "../x.tar", "samples": 1}]}}}))
    with pytest.raises(DatasetError, match=r"'../x.tar' leads outside"):
        WebDatasetSamples(tmp_path, "train")


def test_keys_with_dots_survive_the_first_dot_rule(tmp_path: Path) -> None:
    from export_fixtures import write_dataset

    source = write_dataset(tmp_path / "ds", images=2, foregrounds=1, k=1, test_images=1)
    for folder, old, new in (("real_images", "Cam1-0001.jpg", "Cam1-0.001.jpg"),
                             ("masks", "Cam1-0001_a.png", "Cam1-0.001_a.png"),
                             ("composite_images", "Cam1-0001_a_1.jpg", "Cam1-0.001_a_1.jpg")):
        (source / folder / old).rename(source / folder / new)
    (source / "tinytrain.txt").write_text("Cam1-0.001_a_1.jpg\n")
    (source / "metadata.parquet").unlink()
    export_webdataset(source, tmp_path / "wds")
    (sample,) = iter_webdataset([tmp_path / "wds" / "train" / "train-000000.tar"])
    assert sample["__key__"] == "Cam1-0%2E001_a_1"
    assert sample["composite"] == (source / "composite_images" / "Cam1-0.001_a_1.jpg").read_bytes()
    assert np.isfinite(sample["json"]["k"])
