"""The file-based exports (``dovenet``, ``iih``) read with each peer's own rules (see export_peers.py)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pytest
from export_fixtures import NAME, write_dataset
from export_peers import dovenet_entries, iih_entries, issam_entries, resolved_fraction

from ccharmony.errors import DatasetError, UsageError
from ccharmony.export import export_dataset, export_dovenet, export_iih


def _metadata(dataset: Path) -> dict[str, dict]:
    frame = pd.read_parquet(dataset / "metadata.parquet")
    return {row["composite_file_name"].split("/")[-1]: row for row in frame.to_dict(orient="records")}


def _lists(dataset: Path) -> dict[str, list[str]]:
    return {split: (dataset / f"{NAME}{split}.txt").read_text().split() for split in ("train", "test")}


def _check_bytes(entries: list[tuple[str, str, str]], dataset: Path) -> None:
    """Every entry's three files hold the bytes of the source's composite, mask and real image."""
    rows = _metadata(dataset)
    for composite, mask, real in entries:
        row = rows[Path(composite).name]
        assert Path(composite).read_bytes() == (dataset / row["composite_file_name"]).read_bytes()
        assert Path(mask).read_bytes() == (dataset / row["mask_file_name"]).read_bytes()
        assert Path(real).read_bytes() == (dataset / row["real_file_name"]).read_bytes()


def test_dovenet_loads_every_entry(dataset: Path, tmp_path: Path) -> None:
    result = export_dovenet(dataset, tmp_path / "dove")
    root = f"{tmp_path / 'dove'}/"
    lists = _lists(dataset)
    for split, is_train in (("train", True), ("test", False)):
        entries = dovenet_entries(root, is_train)
        assert resolved_fraction(entries) == (len(lists[split]), len(lists[split]))
        assert [Path(c).name for c, _, _ in entries] == lists[split]  # order and membership of the source
        _check_bytes(entries, dataset)
        # the sub-dataset folder is an iHarmony4 sub-dataset: iSSAM and IIH read it as well
        subset = tmp_path / "dove" / NAME
        assert resolved_fraction(issam_entries(subset, split)) == (len(lists[split]),) * 2
        assert resolved_fraction(iih_entries(f"{subset}/", NAME, is_train)) == (len(lists[split]),) * 2
    assert (tmp_path / "dove" / "IHD_train.txt").read_text().splitlines()[0] == f"{NAME}/composite_images/{lists['train'][0]}"
    assert result.samples == {"train": 18, "test": 12}
    # 30 composites + 10 masks + 5 real images + metadata, card, card plot, build.json
    assert result.placed == {"hardlink": 49, "symlink": 0, "copy": 0}
    assert result.load == f"python train.py --dataset_root {tmp_path / 'dove'}/ --dataset_mode iharmony4 --model dovenet"


def test_iih_loads_every_entry_and_issam_too(dataset: Path, tmp_path: Path) -> None:
    export_iih(dataset, tmp_path / "iih")
    root = f"{tmp_path / 'iih'}/"
    lists = _lists(dataset)
    for split, is_train in (("train", True), ("test", False)):
        entries = iih_entries(root, NAME, is_train)
        assert resolved_fraction(entries) == (len(lists[split]), len(lists[split]))
        assert [Path(c).name for c, _, _ in entries] == lists[split]
        _check_bytes(entries, dataset)
        assert resolved_fraction(issam_entries(tmp_path / "iih", split)) == (len(lists[split]),) * 2
    assert sorted(p.name for p in (tmp_path / "iih").glob("*.txt")) == [f"{NAME}_test.txt", f"{NAME}_train.txt"]


def test_name_option_renames_lists_and_folder(dataset: Path, tmp_path: Path) -> None:
    export_iih(dataset, tmp_path / "iih", name="IHD")
    assert resolved_fraction(iih_entries(f"{tmp_path / 'iih'}/", "IHD", True)) == (18, 18)
    export_dovenet(dataset, tmp_path / "dove", name="HCCH")
    assert (tmp_path / "dove" / "HCCH" / "HCCH_train.txt").is_file()
    with pytest.raises(DatasetError, match=r"--name: 'a/b' cannot name an exported dataset"):
        export_iih(dataset, tmp_path / "bad", name="a/b")
    assert not (tmp_path / "bad").exists()


def test_files_are_hard_links_by_default_and_copies_with_copy(dataset: Path, tmp_path: Path) -> None:
    export_iih(dataset, tmp_path / "linked")
    export_iih(dataset, tmp_path / "copied", copy=True)
    source = dataset / "real_images" / "Cam0-0000.jpg"
    linked = tmp_path / "linked" / "real_images" / "Cam0-0000.jpg"
    copied = tmp_path / "copied" / "real_images" / "Cam0-0000.jpg"
    assert os.path.samefile(source, linked) and not linked.is_symlink()
    assert not os.path.samefile(source, copied) and copied.read_bytes() == source.read_bytes()


def test_symlinks_where_hard_links_fail(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cross_device(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    result = export_dovenet(dataset, tmp_path / "dove")
    assert result.placed == {"hardlink": 0, "symlink": 49, "copy": 0}
    link = tmp_path / "dove" / NAME / "masks" / "Cam0-0000_a.png"
    assert link.is_symlink() and Path(os.readlink(link)) == (dataset / "masks" / "Cam0-0000_a.png").resolve()
    assert resolved_fraction(dovenet_entries(f"{tmp_path / 'dove'}/", True)) == (18, 18)


@pytest.mark.parametrize("fmt", ["dovenet", "iih"])
def test_refuses_paths_that_leave_the_dataset(fmt: str, tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "ds", images=3, foregrounds=1, k=1, test_images=1)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes((source / "composite_images" / "Cam0-0000_a_1.jpg").read_bytes())
    # a list line climbing out of the folder
    with open(source / f"{NAME}train.txt", "a") as handle:
        handle.write("../../secret_a_1.jpg\n")
    with pytest.raises(DatasetError, match=r"tinytrain.txt line 3: '../../secret_a_1.jpg' leads outside"):
        export_dataset(source, tmp_path / "out", format=fmt)
    lines = (source / f"{NAME}train.txt").read_text().splitlines()[:-1]
    (source / f"{NAME}train.txt").write_text("".join(f"{line}\n" for line in lines))
    # a symlink inside the folder pointing out of it
    target = source / "real_images" / "Cam1-0001.jpg"
    target.unlink()
    target.symlink_to(secret)
    with pytest.raises(DatasetError, match=r"real image of tinytrain.txt line 2: 'real_images/Cam1-0001.jpg' leads outside"):
        export_dataset(source, tmp_path / "out", format=fmt)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind


def test_out_must_be_new_and_outside_the_dataset(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"overlaps the dataset folder"):
        export_dovenet(dataset, dataset / "export")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(DatasetError, match=r"--out .*busy: already exists and is not an empty folder"):
        export_iih(dataset, tmp_path / "busy")
    (tmp_path / "empty").mkdir()
    export_iih(dataset, tmp_path / "empty")  # an empty folder is fine
    assert (tmp_path / "empty" / f"{NAME}_train.txt").is_file()


def test_refuses_a_real_image_that_is_not_jpeg(tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "ds", images=2, foregrounds=1, k=1, test_images=1)
    png = (source / "masks" / "Cam0-0000_a.png").read_bytes()
    (source / "real_images" / "Cam0-0000.jpg").write_bytes(png)
    with pytest.raises(DatasetError, match=r"Cam0-0000.jpg: the real image of Cam0-0000_a_1 is png"):
        export_iih(source, tmp_path / "out")


def test_dispatcher_checks_format_and_options(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown export format 'hff' \(did you mean 'hf'\?\)"):
        export_dataset(dataset, tmp_path / "o", format="hff")
    with pytest.raises(UsageError, match=r"^--shard-size: not an option of --format dovenet \(it applies to hf, webdataset\)$"):
        export_dataset(dataset, tmp_path / "o", format="dovenet", shard_size=3)
    with pytest.raises(UsageError, match=r"^--copy: not an option of --format hf \(it applies to dovenet, iih\)$"):
        export_dataset(dataset, tmp_path / "o", format="hf", copy=True)


def test_folder_without_metadata_uses_the_naming_rule(tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "ds", images=3, foregrounds=1, k=2, test_images=1)
    (source / "metadata.parquet").unlink()
    result = export_dovenet(source, tmp_path / "dove")
    assert result.samples == {"train": 4, "test": 2}
    assert resolved_fraction(dovenet_entries(f"{tmp_path / 'dove'}/", False)) == (2, 2)
