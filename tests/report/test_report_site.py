"""Tests of :mod:`ccharmony.report.site` and the ``ccharmony report`` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ccharmony.errors import ConfigError
from ccharmony.report import MARKER_FILE, ReportOptions, write_report


def _data(path: Path, variable: str) -> dict:
    text = path.read_text(encoding="utf-8")
    prefix = f"window.{variable} = "
    assert text.startswith(prefix) and text.rstrip().endswith(";")
    return json.loads(text[len(prefix):].rstrip().rstrip(";"))


def test_site_files_and_gallery_data(tmp_path: Path, synthetic_dataset: Path, synthetic_benchmark: Path) -> None:
    out = tmp_path / "report"
    result = write_report(synthetic_dataset, out, benchmark=synthetic_benchmark,
                          options=ReportOptions(verify=False, page_size=5))
    assert [p.name for p in result.pages] == ["index.html", "gallery.html", "benchmark.html"]
    assert result.cards == 8 and result.composites == 24 and result.failures == ()
    # 4 real + 8 outlines + 24 composites + 2 models x 6 predictions
    assert result.thumbnails_made == 48 and result.thumbnails_cached == 0
    gallery = _data(out / "data" / "gallery.js", "CCH_GALLERY")
    assert gallery["pageSize"] == 5 and gallery["splits"] == ["train", "test"]
    assert gallery["cameras"] == ["Canon5D", "Nikon-D810"]
    assert len(gallery["cards"]) == 8 and sum(len(c["comps"]) for c in gallery["cards"]) == 24
    test_cards = [c for c in gallery["cards"] if c["split"] == "test"]
    assert [c["id"] for c in test_cards] == ["Nikon-D810-IMG-0003_a", "Nikon-D810-IMG-0003_b"]
    errors = [comp["err"] for comp in test_cards[0]["comps"]]
    assert all(set(e) == {"composite", "GiftNet"} for e in errors)
    for card in gallery["cards"]:
        for thumb in [card["real"], card["outline"]] + [c["thumb"] for c in card["comps"]]:
            assert (out / thumb).is_file()
    bench = _data(out / "data" / "benchmark.js", "CCH_BENCH")
    assert bench["primary"] == "GiftNet" and len(bench["cases"]) == 6
    assert bench["lower"] == {"MSE": True, "fMSE": True, "PSNR": False, "fPSNR": False, "SSIM": False,
                              "fSSIM": False}
    assert gallery["metric"] == "fMSE"
    case = next(c for c in bench["cases"] if c["name"] == "Nikon-D810-IMG-0003_b_2")
    assert case["composite"] == "thumbs/composite/Nikon-D810-IMG-0003_b_2.jpg"
    assert case["real"] == "thumbs/real/Nikon-D810-IMG-0003.jpg" and case["split"] == "test"
    assert case["m"]["GiftNet"]["pred"] == "thumbs/pred/GiftNet/Nikon-D810-IMG-0003_b_2.jpg"
    index = (out / "index.html").read_text()
    assert 'id="counts-split"' in index and "plots/illuminants.svg" in index
    assert "Verification was not run" in index
    assert json.loads((out / MARKER_FILE).read_text())["cards"] == 8


def test_self_contained(tmp_path: Path, synthetic_dataset: Path, synthetic_benchmark: Path) -> None:
    out = tmp_path / "report"
    write_report(synthetic_dataset, out, benchmark=synthetic_benchmark, options=ReportOptions(verify=False))
    for path in list(out.glob("*.html")) + list(out.glob("assets/*")) + list(out.glob("plots/*.svg")):
        text = path.read_text(encoding="utf-8")
        external = re.findall(r"(?:src|href|url)\s*[=(]\s*[\"']?(?:https?:)?//", text)
        assert external == [], f"{path.name} loads something from the network: {external}"


def test_cache_and_rerun_without_benchmark(tmp_path: Path, synthetic_dataset: Path, synthetic_benchmark: Path) -> None:
    out = tmp_path / "report"
    write_report(synthetic_dataset, out, benchmark=synthetic_benchmark, options=ReportOptions(verify=False))
    again = write_report(synthetic_dataset, out, options=ReportOptions(verify=False))
    assert again.thumbnails_made == 0 and again.thumbnails_cached == 36
    assert not (out / "benchmark.html").exists() and not (out / "data" / "benchmark.js").exists()


def test_verify_on_overview_and_cached(tmp_path: Path, synthetic_dataset: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    verify = pytest.importorskip("ccharmony.dataset.verify", reason="verify is not in this tree")
    import shutil

    dataset = tmp_path / "dataset"
    shutil.copytree(synthetic_dataset, dataset)
    calls = []
    original = verify.verify_dataset

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(verify, "verify_dataset", counting)
    out = dataset / "report"  # inside the dataset: must not change the dataset's key
    write_report(dataset, out)
    index = (out / "index.html").read_text()
    assert 'id="verify-ok"' in index and 'id="verify-checks"' in index
    write_report(dataset, out)
    assert len(calls) == 1
    assert (out / "index.html").read_text().count('id="verify-checks"') == 1
    mask = dataset / "masks" / "Canon5D-IMG-0000_a.png"
    mask.write_bytes(mask.read_bytes())
    import os

    os.utime(mask, ns=(mask.stat().st_atime_ns, mask.stat().st_mtime_ns + 10**9))
    write_report(dataset, out)
    assert len(calls) == 2


def test_refuses_foreign_folder(tmp_path: Path, synthetic_dataset: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="is not a ccharmony report"):
        write_report(synthetic_dataset, foreign, options=ReportOptions(verify=False))
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_missing_files_are_listed(tmp_path: Path, synthetic_dataset: Path) -> None:
    import shutil

    dataset = tmp_path / "dataset"
    shutil.copytree(synthetic_dataset, dataset)
    (dataset / "composite_images" / "Canon5D-IMG-0000_a_2.jpg").write_bytes(b"\xff\xd8 truncated")
    result = write_report(dataset, tmp_path / "report", options=ReportOptions(verify=False))
    assert len(result.failures) == 1 and "Canon5D-IMG-0000_a_2.jpg: cannot be decoded (the content is not JPEG)" in result.failures[0]
    gallery = _data(tmp_path / "report" / "data" / "gallery.js", "CCH_GALLERY")
    thumbs = {c["name"]: c["thumb"] for card in gallery["cards"] for c in card["comps"]}
    assert thumbs["Canon5D-IMG-0000_a_2.jpg"] is None and thumbs["Canon5D-IMG-0000_a_1.jpg"]
    assert "1 files could not be shown" in (tmp_path / "report" / "index.html").read_text()


@pytest.mark.parametrize(("options", "message"), [
    ({"page_size": 0}, "page size must be >= 1"), ({"thumbnail_size": 2}, "thumbnail size must be >= 8"),
    ({"jpeg_quality": 101}, "JPEG quality"), ({"workers": -2}, "workers must be >= 0"),
    ({"pool": "cluster"}, "pool must be"),
])
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ReportOptions(**options)


def test_cli(tmp_path: Path, synthetic_dataset: Path, synthetic_benchmark: Path) -> None:
    out = tmp_path / "report"
    command = [sys.executable, "-m", "ccharmony", "report", str(synthetic_dataset), "--out", str(out),
               "--benchmark", str(synthetic_benchmark), "--no-verify", "--page-size", "4"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.match(r"wrote .*index\.html \(8 foregrounds, 24 composites; thumbnails: 48 made, 0 cached", done.stdout)
    assert _data(out / "data" / "gallery.js", "CCH_GALLERY")["pageSize"] == 4
    bad = subprocess.run([sys.executable, "-m", "ccharmony", "report", str(tmp_path / "nowhere"), "--out",
                          str(tmp_path / "other")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1  # a run-time failure (2 is kept for usage errors)
    assert bad.stderr.strip().splitlines() == [
        f"ccharmony report: error: {tmp_path / 'nowhere'}: dataset folder does not exist "
        "(give the folder `ccharmony build --out` wrote)"]
    assert not (tmp_path / "other").exists()
