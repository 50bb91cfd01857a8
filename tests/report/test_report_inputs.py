"""Tests of :mod:`ccharmony.report.inputs`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ccharmony.dataset import layout
from ccharmony.errors import DatasetError
from ccharmony.report.inputs import COMPOSITE_COLUMNS, read_benchmark, read_dataset


def test_read_dataset_with_metadata(synthetic_dataset: Path) -> None:
    view = read_dataset(synthetic_dataset)
    assert view.has_metadata and view.name == "ccHarmony"
    frame = view.composites
    assert tuple(frame.columns) == COMPOSITE_COLUMNS
    assert len(frame) == 24
    assert frame["split"].value_counts().to_dict() == {"train": 18, "test": 6}
    assert frame.iloc[0]["composite_path"] == "composite_images/Canon5D-IMG-0000_a_1.jpg"
    metadata = pd.read_parquet(synthetic_dataset / "metadata.parquet")
    np.testing.assert_allclose(np.sort(frame["illuminant_angle_deg"]), np.sort(metadata["illuminant_angle_deg"]))
    assert len(frame.iloc[0]["source_illuminant"]) == 3
    assert view.build["counts"]["composites"] == 24


def test_read_dataset_without_metadata(tmp_path: Path, synthetic_dataset: Path) -> None:
    folder = tmp_path / "iharmony"
    shutil.copytree(synthetic_dataset, folder)
    (folder / "metadata.parquet").unlink()
    (folder / "build.json").unlink()
    # Third-party lists may carry the folder prefix, and ids may contain "_".
    (folder / layout.list_file_name("ccHarmony", "train")).rename(folder / "HCOCO_train.txt")
    test_list = folder / layout.list_file_name("ccHarmony", "test")
    lines = test_list.read_text().splitlines()
    test_list.unlink()
    (folder / "HCOCO_test.txt").write_text("".join(f"composite_images/{line}\n" for line in lines))
    view = read_dataset(folder)
    assert not view.has_metadata and view.name == "HCOCO"
    frame = view.composites
    assert len(frame) == 24
    assert frame["split"].value_counts().to_dict() == {"train": 18, "test": 6}
    assert frame["illuminant_angle_deg"].isna().all() and (frame["source_camera"] == "unknown").all()
    assert any("No metadata.parquet" in note for note in view.notes)
    assert frame.iloc[0]["mask_path"] == "masks/Canon5D-IMG-0000_a.png"


def test_read_dataset_names_with_underscores(tmp_path: Path) -> None:
    (tmp_path / "composite_images").mkdir()
    for name in ("c_100_1_2.jpg", "c_100_1_1.jpg"):
        (tmp_path / "composite_images" / name).write_bytes(b"")
    view = read_dataset(tmp_path)
    assert view.composites[["image_id", "foreground_id", "k"]].values.tolist() == [["c_100", "1", 1], ["c_100", "1", 2]]
    assert set(view.composites["split"]) == {"unknown"}


def test_read_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nowhere: dataset folder does not exist"):
        read_dataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="no composites found"):
        read_dataset(tmp_path)
    (tmp_path / "metadata.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="metadata.parquet: cannot read the metadata table"):
        read_dataset(tmp_path)
    (tmp_path / "metadata.parquet").unlink()
    (tmp_path / "composite_images").mkdir()
    (tmp_path / "composite_images" / "nonsense.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match="does not follow"):
        read_dataset(tmp_path)


def test_read_benchmark(synthetic_benchmark: Path) -> None:
    view = read_benchmark(synthetic_benchmark)
    assert view.models == ("composite", "GiftNet")
    assert view.metrics == ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")  # not foreground_ratio(_group)
    table = pd.read_csv(synthetic_benchmark / "per_image.csv")
    expected = table[table["model"] == "GiftNet"]["fMSE"].mean()
    row = view.summary[view.summary["model"] == "GiftNet"].iloc[0]
    assert row["fMSE"] == pytest.approx(expected) and row["images"] == 6
    assert len(view.predictions) == 12
    assert view.predictions[("GiftNet", "Nikon-D810-IMG-0003_a_1")].name == "Nikon-D810-IMG-0003_a_1.png"
    assert view.report["psnr_peak"] == "255"


def test_read_benchmark_other_spelling(tmp_path: Path) -> None:
    # Lower-case metrics, names with folder and extension, no report.json, no predictions.
    (tmp_path / "per_image.csv").write_text(
        "name,model,psnr,fmse\ncomposite_images/a_b_1.jpg,x,30.0,100.0\ncomposite_images/a_b_2.jpg,x,20.0,300.0\n")
    view = read_benchmark(tmp_path)
    assert view.metrics == ("fmse", "psnr")
    assert view.per_image["name"].tolist() == ["a_b_1.jpg", "a_b_2.jpg"]
    assert view.summary.iloc[0][["fmse", "psnr"]].tolist() == [200.0, 25.0]
    assert any("No report.json" in note for note in view.notes)


def test_read_benchmark_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="run folder does not exist"):
        read_benchmark(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="per_image.csv: missing"):
        read_benchmark(tmp_path)
    (tmp_path / "per_image.csv").write_text("name,score\na_b_1.jpg,1\n")
    with pytest.raises(DatasetError, match="needs a 'name' and a 'model' column"):
        read_benchmark(tmp_path)
    (tmp_path / "per_image.csv").write_text("name,model,comment\na_b_1.jpg,x,hello\n")
    with pytest.raises(DatasetError, match="no numeric metric column"):
        read_benchmark(tmp_path)


def test_read_benchmark_with_seeds_averages_each_image_over_seeds(tmp_path: Path) -> None:
    (tmp_path / "per_image.csv").write_text(
        "model,name,photo,seed,MSE,fMSE,foreground_ratio\n"
        "composite,a_b_1.jpg,a,,10.0,100.0,0.1\n"
        "composite,c_d_1.jpg,c,,30.0,300.0,0.2\n"
        "giftnet,a_b_1.jpg,a,0,2.0,20.0,0.1\n"
        "giftnet,a_b_1.jpg,a,1,4.0,40.0,0.1\n"
        "giftnet,c_d_1.jpg,c,0,6.0,60.0,0.2\n"
        "giftnet,c_d_1.jpg,c,1,10.0,100.0,0.2\n")
    view = read_benchmark(tmp_path)
    assert view.metrics == ("MSE", "fMSE")
    summary = view.summary.set_index("model")
    assert summary.loc["giftnet", "images"] == 2 and summary.loc["composite", "images"] == 2
    assert summary.loc["giftnet", "MSE"] == pytest.approx((3.0 + 8.0) / 2)
    assert summary.loc["giftnet", "fMSE"] == pytest.approx((30.0 + 80.0) / 2)
    rows = view.per_image.set_index(["model", "name"])
    assert rows.loc[("giftnet", "c_d_1.jpg"), "fMSE"] == pytest.approx(80.0)
    assert rows.loc[("giftnet", "c_d_1.jpg"), "foreground_ratio"] == pytest.approx(0.2)
