"""Scoring another method's outputs: reproduction of trained rows, merging, missing/extra files, path guards."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from ccharmony.errors import ConfigError, DatasetError
from ccharmony.harmonization.data import HarmonizationDataset
from ccharmony.harmonization.metrics import METRIC_NAMES
from ccharmony.harmonization.models import build_model
from ccharmony.harmonization.predict import evaluate
from ccharmony.harmonization.protocols import PROTOCOL_NAMES, get_protocol
from ccharmony.harmonization.report import read_report, write_report
from ccharmony.harmonization.scoring import list_predictions, score_predictions
from ccharmony.harmonization.statistics import BootstrapOptions
from harmonization_toy import write_toy_dataset

FAST = BootstrapOptions(resamples=200, seed=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("score") / "data", scenes=5, width=72, height=60,
                             test_scenes=3, bare_names=True)


def _names(data: Path) -> list[str]:
    return [Path(line).stem for line in (data / "Toy_test.txt").read_text().split()]


def _composite_copies(data: Path, folder: Path) -> Path:
    """iSSAM predict_for_dir style: each output under the composite's own file name, full size, JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in _names(data):
        shutil.copyfile(data / "composite_images" / f"{name}.jpg", folder / f"{name}.jpg")
    return folder


def _trained_rows(data: Path, protocol: str, model: str = "composite") -> list[dict]:
    dataset = HarmonizationDataset(data, "test", size=256)
    return evaluate(build_model(model), dataset, protocol=protocol, batch_size=4)


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_full_size_jpeg_composites_reproduce_the_composite_row(data, tmp_path, protocol):
    trained = _trained_rows(data, protocol)
    predictions = _composite_copies(data, tmp_path / "predictions")
    result = score_predictions(data, predictions, name="composite-files", protocol=protocol,
                               out_dir=tmp_path / "runs", statistics=FAST)
    assert result.run_dir.name == "000_score" and result.missing == () and result.extra == ()
    assert [row["name"] for row in result.rows] == [row["name"] for row in trained]
    for scored, row in zip(result.rows, trained):
        for name in METRIC_NAMES:
            a, b = scored[name], row[name]
            assert (np.isnan(a) and np.isnan(b)) or a == b, (protocol, name, a, b)
        assert scored["photo"] == row["photo"] and scored["sha256"] == row["sha256"]
    # The automatic composite row of a new score run is the same row again.
    assert result.summary["composite"]["metrics"] == pytest.approx(result.summary["composite-files"]["metrics"],
                                                                   nan_ok=True)


def test_report_files_record_protocol_statistics_and_rows(data, tmp_path):
    predictions = _composite_copies(data, tmp_path / "predictions")
    (predictions / "notes.txt").write_text("not an image")
    cv2.imwrite(str(predictions / "nobody_1_1.png"), np.zeros((8, 8, 3), np.uint8))
    result = score_predictions(data, predictions, name="mine", protocol="iih", out_dir=tmp_path / "runs",
                               statistics=FAST)
    report = json.loads(result.paths["json"].read_text())
    assert report["protocol"]["name"] == "iih" and report["protocol"]["size"] == 256
    assert report["protocol"]["conventions"] == get_protocol("iih").conventions()
    assert report["psnr_peak"] == "255"
    assert report["statistics"]["resamples"] == 200 and "source-photo" in report["statistics"]["method"]
    assert report["test_set"]["count"] == len(_names(data)) and len(report["test_set"]["sha256"]) == 64
    info = report["rows"]["mine"]
    assert info["source"] == "scored" and info["extra"] == ["nobody_1_1"] and info["ignored"] == ["notes.txt"]
    assert info["prediction_sizes"] == {"72x60": len(_names(data))}
    assert result.extra == ("nobody_1_1",)
    with open(result.paths["csv"], newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["model"] for row in rows} == {"composite", "mine"}
    assert rows[0]["photo"].startswith("real_images/scene") and "seed" not in rows[0]
    text = result.paths["markdown"].read_text()
    assert "protocol: `iih`" in text and "[" in text.split("| mine |")[1].splitlines()[0]


def test_row_added_to_a_run_folder_merges_and_guards(data, tmp_path):
    run = tmp_path / "000_benchmark"
    run.mkdir()
    trained = {"composite": _trained_rows(data, "bcmi"), "reinhard-lab": _trained_rows(data, "bcmi", "reinhard-lab")}
    write_report(run, trained, meta={"dataset": str(data), "preset": "cpu-smoke",
                                     "descriptions": {"composite": "composite (input)"}},
                 protocol="bcmi", statistics=FAST, rows_info={m: {"source": "trained"} for m in trained})
    predictions = _composite_copies(data, tmp_path / "predictions")
    result = score_predictions(data, predictions, name="files", run_dir=run)
    assert result.run_dir == run
    assert list(result.summary) == ["composite", "reinhard-lab", "files"]
    assert result.summary["files"]["metrics"] == result.summary["composite"]["metrics"]
    report = read_report(run)
    assert report.protocol == "bcmi" and set(report.per_image) == {"composite", "reinhard-lab", "files"}
    assert report.document["rows"]["reinhard-lab"]["source"] == "trained"
    assert report.document["meta"]["preset"] == "cpu-smoke"
    assert report.document["statistics"]["resamples"] == 200  # the run's bootstrap options are kept
    # Trained rows come back exactly from per_image.csv.
    for a, b in zip(report.per_image["reinhard-lab"], trained["reinhard-lab"]):
        assert all(a[m] == b[m] for m in METRIC_NAMES)
    with pytest.raises(DatasetError, match=r"the run already has a row 'files'"):
        score_predictions(data, predictions, name="files", run_dir=run)
    score_predictions(data, predictions, name="files", run_dir=run, replace=True)
    with pytest.raises(DatasetError, match=r"scored under protocol 'bcmi', not 'iih'"):
        score_predictions(data, predictions, name="other", run_dir=run, protocol="iih")
    other = write_toy_dataset(tmp_path / "other", scenes=5, width=72, height=60, test_scenes=3, bare_names=True,
                              seed=1)
    with pytest.raises(DatasetError, match=r"the run's test set \(6 composites, sha256 [0-9a-f]{12}\) is not"):
        score_predictions(other, _composite_copies(other, tmp_path / "other_predictions"), name="x", run_dir=run)


def test_old_run_without_protocol_is_ours(data, tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    write_report(run, {"composite": _trained_rows(data, "ours")}, meta={}, psnr_peak="255", statistics=FAST)
    document = json.loads((run / "report.json").read_text())
    del document["protocol"], document["test_set"]  # as the first benchmark wrote it
    (run / "report.json").write_text(json.dumps(document))
    assert read_report(run).protocol == "ours"
    result = score_predictions(data, _composite_copies(data, tmp_path / "p"), name="files", protocol="ours",
                               run_dir=run)
    assert result.summary["files"]["metrics"] == result.summary["composite"]["metrics"]


def test_missing_predictions(data, tmp_path):
    predictions = _composite_copies(data, tmp_path / "predictions")
    names = _names(data)
    (predictions / f"{names[1]}.jpg").unlink()
    with pytest.raises(DatasetError, match=rf"1 of {len(names)} test composites have no prediction \({names[1]}\)"):
        score_predictions(data, predictions, name="m", out_dir=tmp_path / "runs")
    result = score_predictions(data, predictions, name="m", out_dir=tmp_path / "runs", allow_missing=True,
                               statistics=FAST)
    assert result.missing == (names[1],) and len(result.rows) == len(names) - 1
    report = json.loads(result.paths["json"].read_text())
    assert report["rows"]["m"]["missing"] == [names[1]] and report["rows"]["m"]["count"] == len(names) - 1
    assert report["summary"]["m"]["count"] == len(names) - 1
    # The paired test uses the composites both rows have.
    assert report["summary"]["m"]["tests"]["fMSE"]["vs_composite"]["composites"] == len(names) - 1
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no prediction matches a test composite"):
        score_predictions(data, empty, name="m", out_dir=tmp_path / "runs", allow_missing=True)


def test_any_size_png_and_jpeg(data, tmp_path):
    """Predictions at 256x256 PNG (predict_for_dir without --original-size) score like the resized composites."""
    folder = tmp_path / "png"
    folder.mkdir()
    protocol = get_protocol("bcmi")
    for name in _names(data):
        image = cv2.imread(str(data / "composite_images" / f"{name}.jpg"))
        cv2.imwrite(str(folder / f"{name}.PNG"), cv2.resize(image, (256, 256), interpolation=cv2.INTER_LINEAR))
    result = score_predictions(data, folder, name="png", protocol=protocol, out_dir=tmp_path / "runs",
                               statistics=FAST)
    # cv2 INTER_LINEAR to 256 is exactly the protocol's resize: the same numbers as the composite row.
    assert result.summary["png"]["metrics"] == result.summary["composite"]["metrics"]
    assert json.loads(result.paths["json"].read_text())["rows"]["png"]["prediction_sizes"] == {
        "256x256": len(_names(data))}


def test_path_guards(data, tmp_path):
    predictions = _composite_copies(data, tmp_path / "predictions")
    outside = tmp_path / "outside.jpg"
    shutil.copyfile(data / "composite_images" / f"{_names(data)[0]}.jpg", outside)
    (predictions / f"{_names(data)[0]}.jpg").unlink()
    os.symlink(outside, predictions / f"{_names(data)[0]}.jpg")
    with pytest.raises(DatasetError, match=r"prediction leads outside"):
        score_predictions(data, predictions, name="m", out_dir=tmp_path / "runs")
    (predictions / f"{_names(data)[0]}.jpg").unlink()
    (predictions / f"{_names(data)[0]}.jpg").mkdir()
    with pytest.raises(DatasetError, match=r"prediction is not a regular file"):
        list_predictions(predictions)
    os.rmdir(predictions / f"{_names(data)[0]}.jpg")
    shutil.copyfile(outside, predictions / f"{_names(data)[0]}.jpg")
    shutil.copyfile(outside, predictions / f"{_names(data)[0]}.png")
    with pytest.raises(DatasetError, match=r"two predictions for"):
        list_predictions(predictions)
    (predictions / f"{_names(data)[0]}.png").unlink()
    # A run folder whose report.json is a link out of it is refused.
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "report.json").write_text("{}")
    os.symlink(tmp_path / "report.json", run / "report.json")
    with pytest.raises(DatasetError, match=r"leads outside"):
        score_predictions(data, predictions, name="m", run_dir=run)
    with pytest.raises(ConfigError, match=r"is not a row name"):
        score_predictions(data, predictions, name="../x", out_dir=tmp_path / "runs")
    with pytest.raises(DatasetError, match=r"predictions folder not found"):
        score_predictions(data, tmp_path / "none", name="m", out_dir=tmp_path / "runs")
