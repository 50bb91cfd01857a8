"""
Hostile input on the read side: ``detect``, ``verify``, ``report``, ``harmonize`` and the readers of ``ccharmony.io``.

Every case runs the command as a user would, in its own process with a timeout so that a hang
fails (a child forked from a preloaded interpreter, :mod:`forked_cli`, so that 40 cases take
seconds rather than the 3-8 s of imports each; the measurements and the interpreter-level
behaviour use real ``python -m ccharmony`` subprocesses), and asserts the outcome: the exit
status, the one stderr line that names the file (exactly), no traceback, stdout valid strict
UTF-8, and that the files it was given are untouched. Case ids start with ``error-`` (one clear
error line, non-zero exit) or ``handled-`` (a documented handling: a verify problem, a report
placeholder, a refusal listed as a problem).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from tree_snapshot import snapshot

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "io"))
sys.path.insert(0, str(TESTS / "dataset"))
from forked_cli import ForkedCLI  # noqa: E402
from hostile_images import jpeg_with_size, png_bomb, tiled_tiff_bomb, write  # noqa: E402
from verify_fixtures import jpeg, png, write_dataset  # noqa: E402

TIMEOUT = 120
TRAIN, TEST = "Synthtrain.txt", "Synthtest.txt"
COMPOSITE = "composite_images/Cam0-0000_a_1.jpg"
MASK = "masks/Cam0-0000_a.png"
BOMB_LINE = "image is 20000x20000 pixels (400.0 megapixels), above the limit of 200.0 megapixels; " \
            "pass --max-pixels 400000000 to read it"


def python_m_ccharmony(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                       timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``python -m ccharmony ARGS`` for real; stdout and stderr as bytes (a hang fails after ``timeout``)."""
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", **(env or {})}
    return subprocess.run([sys.executable, "-m", "ccharmony", *args], capture_output=True, timeout=timeout,
                          cwd=cwd, env=environment, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def cli():  # noqa: ANN201
    """``cli.run(*args, cwd=...)``: each command in its own forked process (see :mod:`forked_cli`)."""
    runner = ForkedCLI(preload=("ccharmony.harmonization.predict",))
    yield runner
    runner.close()




@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest sound dataset (4 images, 8 composites, 64 x 96), with metadata, build.json and card."""
    return write_dataset(tmp_path_factory.mktemp("hostile-template") / "ds")


@pytest.fixture(scope="session")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("bombs") / "bomb.png", png_bomb())


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained U-Net checkpoint in the format ``ccharmony benchmark`` writes."""
    import torch

    from ccharmony.harmonization.engine import CHECKPOINT_FORMAT
    from ccharmony.harmonization.models import ModelOptions, build_model

    torch.manual_seed(0)
    options = ModelOptions()
    model = build_model("unet", options)
    path = tmp_path_factory.mktemp("checkpoint") / "tiny.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model_name": "unet",
                "model_options": options.to_dict() if hasattr(options, "to_dict") else {},
                "model": model.state_dict(), "inference_size": 32}, path)
    return path


@dataclass
class Case:
    """One hostile input: how to set it up, the command, and what must come out."""

    prepare: Callable[[Path, Path], list[str]]
    """(work folder, dataset copy) -> the command's arguments; may corrupt the dataset copy."""
    status: int
    stderr: list[str] | None = None
    """The exact stderr lines ({work} and {ds} are replaced); None: not checked beyond 'no traceback'."""
    stdout: list[str] = field(default_factory=list)
    """Lines that must be in stdout ({work}, {ds} replaced)."""
    absent: list[str] = field(default_factory=list)
    """Text that must not appear in stdout or stderr (raw control characters, a temporary name)."""
    then: Callable[[Path, Path], None] | None = None
    """More checks on the folders afterwards."""


def _grey_png(path: Path) -> Path:
    return write(path, png(np.full((100, 140, 3), 120, np.uint8)))


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def _outside_jpeg(work: Path) -> Path:
    return write(work / "outside" / "x_a_1.jpg", jpeg(np.full((64, 96, 3), 200, np.uint8), 95))


def _set_metadata(ds: Path, column: str, value: object) -> None:
    frame = pd.read_parquet(ds / "metadata.parquet")
    frame[column] = [value] * len(frame)
    frame.to_parquet(ds / "metadata.parquet", index=False)


def _benchmark_run(work: Path, model: str) -> Path:
    run = work / "runs" / "000_benchmark"
    run.mkdir(parents=True)
    pd.DataFrame({"name": ["Cam0-0000_a_1"], "model": [model], "MSE": [1.0], "fMSE": [2.0]}).to_csv(
        run / "per_image.csv", index=False)
    return run


# --- detect ---------------------------------------------------------------------------------------

def _detect_bomb(work: Path, ds: Path, bomb: Path) -> list[str]:
    return ["detect", str(bomb)]


def _detect_tiff_bomb(work: Path, ds: Path) -> list[str]:
    return ["detect", str(write(work / "tiled.tif", tiled_tiff_bomb()))]


def _detect_above_opencv(work: Path, ds: Path) -> list[str]:
    return ["detect", str(write(work / "huge.jpg", jpeg_with_size(65000, 65000))), "--max-pixels", "5000000000"]


def _detect_above_opencv_default(work: Path, ds: Path) -> list[str]:
    return ["detect", str(write(work / "huge.jpg", jpeg_with_size(65000, 65000)))]


def _detect_fifo(work: Path, ds: Path) -> list[str]:
    return ["detect", str(_fifo(work / "photo.png"))]


def _detect_device(work: Path, ds: Path) -> list[str]:
    return ["detect", "/dev/zero"]


def _detect_folder(work: Path, ds: Path) -> list[str]:
    (work / "photo.png").mkdir()
    return ["detect", str(work / "photo.png")]


def _detect_fifo_annotation(work: Path, ds: Path) -> list[str]:
    return ["detect", str(_grey_png(work / "photo.png")), "--annotation", str(_fifo(work / "corners.json"))]


def _detect_nested_json(work: Path, ds: Path) -> list[str]:
    (work / "corners.json").write_text(_nested(100000))
    return ["detect", str(_grey_png(work / "photo.png")), "--annotation", str(work / "corners.json")]


def _detect_identical_corners(work: Path, ds: Path) -> list[str]:
    (work / "corners.json").write_text(json.dumps({"corners": [[50, 40]] * 4}))
    return ["detect", str(_grey_png(work / "photo.png")), "--annotation", str(work / "corners.json")]


def _detect_crossing_corners(work: Path, ds: Path) -> list[str]:
    (work / "corners.json").write_text(json.dumps({"corners": [[10, 10], [130, 90], [130, 10], [10, 90]]}))
    return ["detect", str(_grey_png(work / "photo.png")), "--annotation", str(work / "corners.json")]


def _detect_dng_non_utf8(work: Path, ds: Path) -> list[str]:
    from ccharmony.io.dng import write_dng

    cfa = (np.random.default_rng(0).random((64, 96)) * 60000).astype(np.uint16)
    name = os.fsdecode(b"caf\xe9.dng")
    write_dng(work / name, cfa)
    return ["detect", str(work / name), "--json", str(work / "out.json")]


def _check_dng_record(work: Path, ds: Path) -> None:
    record = json.loads((work / "out.json").read_text())
    assert record["file"].endswith("caf\udce9.dng") and record["found"] is False


# --- verify ---------------------------------------------------------------------------------------

def _verify_list_traversal(work: Path, ds: Path) -> list[str]:
    _outside_jpeg(work)
    _append(ds / TRAIN, "composite_images/../../outside/x_a_1.jpg")
    return ["verify", str(ds), "--json", str(work / "v.json")]


def _no_outside_read(work: Path, ds: Path) -> None:
    report = json.loads((work / "v.json").read_text())
    assert report["summary"]["files_read"] == 4 + 4 + 8  # the dataset's own files only
    naming = [check["name"] for check in report["checks"] if "outside/x_a_1" in json.dumps(check)]
    assert naming == ["paths-inside"]  # named as the refused line, and by no check that read it


def _verify_symlink_out(work: Path, ds: Path) -> list[str]:
    target = _outside_jpeg(work)
    (ds / COMPOSITE).unlink()
    (ds / COMPOSITE).symlink_to(target)
    return ["verify", str(ds)]


def _verify_unfinished(work: Path, ds: Path) -> list[str]:
    (ds / ".ccharmony-build" / "rows").mkdir(parents=True)
    (ds / "DATASET_CARD.md").unlink()
    (ds / "build.json").unlink()
    return ["verify", str(ds)]


def _verify_empty_test(work: Path, ds: Path) -> list[str]:
    (ds / TEST).write_text("")
    return ["verify", str(ds)]


def _verify_nan(work: Path, ds: Path) -> list[str]:
    _set_metadata(ds, "source_illuminant_srgb", [float("nan")] * 3)
    _set_metadata(ds, "illuminant_angle_deg", float("nan"))
    return ["verify", str(ds)]


def _verify_escape(work: Path, ds: Path) -> list[str]:
    shutil.copy(ds / COMPOSITE, ds / "composite_images" / "x\x1b]0;pwned\x07\x1b[2J_a_1.jpg")
    return ["verify", str(ds)]


def _verify_fifo_composite(work: Path, ds: Path) -> list[str]:
    (ds / COMPOSITE).unlink()
    _fifo(ds / COMPOSITE)
    return ["verify", str(ds)]


def _verify_fifo_list(work: Path, ds: Path) -> list[str]:
    (ds / TEST).unlink()
    _fifo(ds / TEST)
    return ["verify", str(ds)]


def _verify_bad_yaml(work: Path, ds: Path) -> list[str]:
    (ds / "DATASET_CARD.md").write_text("---\ndataset_info: [splits: {\n---\n# card\n")
    return ["verify", str(ds)]


def _verify_nested_build_json(work: Path, ds: Path) -> list[str]:
    (ds / "build.json").write_text(_nested(100000))
    return ["verify", str(ds)]


def _verify_jpeg_mask(work: Path, ds: Path) -> list[str]:
    mask = cv2.imread(str(ds / MASK), cv2.IMREAD_GRAYSCALE)
    (ds / MASK).write_bytes(jpeg(cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), 95))
    return ["verify", str(ds)]


def _verify_bomb_mask(work: Path, ds: Path, bomb: Path) -> list[str]:
    shutil.copy(bomb, ds / MASK)
    return ["verify", str(ds)]


def _verify_file(work: Path, ds: Path) -> list[str]:
    return ["verify", str(ds / TRAIN)]


def _verify_json_long_name(work: Path, ds: Path) -> list[str]:
    return ["verify", str(ds), "--json", str(work / ("v" * 245 + ".json"))]


# --- report ---------------------------------------------------------------------------------------

def _report_symlink_out(work: Path, ds: Path) -> list[str]:
    target = _outside_jpeg(work)
    (ds / COMPOSITE).unlink()
    (ds / COMPOSITE).symlink_to(target)
    return ["report", str(ds), "--out", str(work / "report"), "--no-verify"]


def _no_outside_thumbnail(work: Path, ds: Path) -> None:
    assert not (work / "report" / "thumbs" / "composite" / "Cam0-0000_a_1.jpg").exists()
    assert (work / "report" / "thumbs" / "composite" / "Cam0-0000_a_2.jpg").is_file()


def _report_model_traversal(work: Path, ds: Path) -> list[str]:
    write(work / "x" / "Cam0-0000_a_1.png", png(np.full((64, 96, 3), 7, np.uint8)))
    run = _benchmark_run(work, "../../../x")
    return ["report", str(ds), "--out", str(work / "report"), "--benchmark", str(run), "--no-verify"]


def _no_outside_prediction(work: Path, ds: Path) -> None:
    assert not (work / "report" / "thumbs" / "pred").exists()
    overview = (work / "report" / "index.html").read_text()
    assert "Model name &#x27;../../../x&#x27; in per_image.csv is a path, not a name" in overview


def _report_on_file(work: Path, ds: Path) -> list[str]:
    return ["report", str(ds / TRAIN), "--out", str(work / "report")]


def _report_bomb_mask(work: Path, ds: Path, bomb: Path) -> list[str]:
    shutil.copy(bomb, ds / MASK)
    return ["report", str(ds), "--out", str(work / "report"), "--no-verify"]


def _report_jpeg_mask(work: Path, ds: Path) -> list[str]:
    mask = cv2.imread(str(ds / MASK), cv2.IMREAD_GRAYSCALE)
    (ds / MASK).write_bytes(jpeg(cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), 95))
    return ["report", str(ds), "--out", str(work / "report"), "--no-verify"]


def _report_nested_build_json(work: Path, ds: Path) -> list[str]:
    (ds / "build.json").write_text(_nested(100000))
    return ["report", str(ds), "--out", str(work / "report")]


def _report_fifo_list(work: Path, ds: Path) -> list[str]:
    (ds / TEST).unlink()
    _fifo(ds / TEST)
    return ["report", str(ds), "--out", str(work / "report"), "--no-verify"]


def _report_html_title(work: Path, ds: Path) -> list[str]:
    return ["report", str(ds), "--out", str(work / "report"), "--no-verify", "--title", "<script>alert(1)</script>"]


def _title_escaped(work: Path, ds: Path) -> None:
    page = (work / "report" / "index.html").read_text()
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page and "<script>alert(1)" not in page


def _verify_yaml_tag(work: Path, ds: Path) -> list[str]:
    (ds / "DATASET_CARD.md").write_text(f"---\nx: !!python/object/apply:os.system ['touch {work}/pwned']\n---\n")
    return ["verify", str(ds)]


def _tag_not_run(work: Path, ds: Path) -> None:
    assert not (work / "pwned").exists()


def _report_list_traversal(work: Path, ds: Path) -> list[str]:
    _outside_jpeg(work)
    (ds / "metadata.parquet").unlink()  # the report then reads the lists
    _append(ds / TRAIN, "composite_images/../../outside/x_a_1.jpg")
    return ["report", str(ds), "--out", str(work / "report"), "--no-verify"]


def _list_line_kept_inside(work: Path, ds: Path) -> None:
    gallery = (work / "report" / "data" / "gallery.js").read_text()
    assert "outside" not in gallery  # the line is taken as the bare name x_a_1.jpg, inside the dataset
    assert not (work / "report" / "thumbs" / "composite" / "x_a_1.jpg").exists()


CASES: dict[str, Case] = {
    "error-detect-png-bomb-1.2MB-20000x20000": Case(
        _detect_bomb, 1, ["ccharmony detect: error: {bomb}: " + BOMB_LINE]),
    "error-detect-tiled-tiff-asking-10.8GB": Case(
        _detect_tiff_bomb, 1, ["ccharmony detect: error: {work}/tiled.tif: image is 60000x60000 pixels "
                               "(3600.0 megapixels), above the limit of 200.0 megapixels; pass --max-pixels "
                               "3600000000 to read it"]),
    "error-detect-jpeg-above-opencv-limit-with-raised-max-pixels": Case(
        _detect_above_opencv, 1, ["ccharmony detect: error: {work}/huge.jpg: OpenCV refuses to decode it: above "
                                  "OpenCV's own limit CV_IO_MAX_IMAGE_PIXELS (an environment variable, 2**30 "
                                  "pixels by default)"]),
    "error-detect-jpeg-above-opencv-limit": Case(
        _detect_above_opencv_default, 1, ["ccharmony detect: error: {work}/huge.jpg: image is 65000x65000 pixels "
                                          "(4225.0 megapixels), above the limit of 200.0 megapixels; pass "
                                          "--max-pixels 4225000000 to read it"]),
    "error-detect-fifo-as-photo": Case(
        _detect_fifo, 1, ["ccharmony detect: error: {work}/photo.png: is a FIFO (named pipe), not an image file; "
                          "ccharmony reads only regular files"]),
    "error-detect-device-as-photo": Case(
        _detect_device, 1, ["ccharmony detect: error: /dev/zero: is a character device, not an image file; "
                            "ccharmony reads only regular files"]),
    "error-detect-folder-named-like-a-photo": Case(
        _detect_folder, 1, ["ccharmony detect: error: {work}/photo.png: is a folder, not an image file"]),
    "error-detect-fifo-as-annotation": Case(
        _detect_fifo_annotation, 1, ["ccharmony detect: error: {work}/corners.json: is a FIFO (named pipe), not an "
                                     "annotation file; ccharmony reads only regular files"]),
    "error-detect-corners-json-nested-100000-deep": Case(
        _detect_nested_json, 1, ['ccharmony detect: error: {work}/corners.json: JSON nested too deeply; expected '
                                 '{"corners": [[x, y] x 4]}']),
    "error-detect-four-identical-corners": Case(
        _detect_identical_corners, 1, ["ccharmony detect: error: {work}/corners.json: corners [[50.0, 40.0], "
                                       "[50.0, 40.0], [50.0, 40.0], [50.0, 40.0]] are not a chart: two corners are "
                                       "at the same place"]),
    "error-detect-crossing-corners": Case(
        _detect_crossing_corners, 1, ["ccharmony detect: error: {work}/corners.json: corners [[10.0, 10.0], "
                                      "[130.0, 90.0], [130.0, 10.0], [10.0, 90.0]] are not a chart: not a convex "
                                      "quadrilateral (sides cross, or corners are not in going-round order)"]),
    "handled-detect-dng-with-non-utf8-name-is-read": Case(_detect_dng_non_utf8, 0, [], then=_check_dng_record),
    "handled-verify-list-line-leaving-the-folder-is-not-read": Case(
        _verify_list_traversal, 1, [], ["  PROBLEM paths-inside: Synthtrain.txt:5: line "
                                        "'composite_images/../../outside/x_a_1.jpg' is a path, not a composite file "
                                        "name; not read"], then=_no_outside_read),
    "handled-verify-symlinked-composite-pointing-outside": Case(
        _verify_symlink_out, 1, [], ["  PROBLEM paths-inside: composite_images/Cam0-0000_a_1.jpg: leads outside "
                                     "the dataset folder (to {work}/outside/x_a_1.jpg); not read"]),
    "handled-verify-unfinished-build": Case(
        _verify_unfinished, 1, [], ["      .ccharmony-build/: an unfinished build's work folder is still there; "
                                    "run the same `ccharmony build` again to finish it",
                                    "      DATASET_CARD.md: missing beside metadata.parquet: the build did not "
                                    "finish (run it again)"]),
    "handled-verify-empty-test-split": Case(
        _verify_empty_test, 1, [], ["  PROBLEM splits-nonempty: Synthtest.txt: the test list names no composite"]),
    "handled-verify-nan-illuminants-and-angles": Case(
        _verify_nan, 1, [], ["      composite_images/Cam0-0000_a_1.jpg: non-finite (NaN, infinite or missing) "
                             "source_illuminant_srgb [nan, nan, nan], illuminant_angle_deg nan"]),
    "handled-verify-terminal-escape-in-a-file-name": Case(
        _verify_escape, 1, [], ["  PROBLEM split-coverage: composite_images/x\\x1b]0;pwned\\x07\\x1b[2J_a_1.jpg: "
                                "in no split list"], absent=["\x1b", "\x07"]),
    "handled-verify-fifo-as-composite": Case(
        _verify_fifo_composite, 1, [], ["  PROBLEM decode: composite_images/Cam0-0000_a_1.jpg: is a FIFO (named "
                                        "pipe), not an image file; ccharmony reads only regular files"]),
    "handled-verify-fifo-as-split-list": Case(
        _verify_fifo_list, 1, [], ["      Synthtest.txt: is a FIFO (named pipe), not a regular file; not read"]),
    "handled-verify-malformed-card-yaml": Case(
        _verify_bad_yaml, 1, [], ["  PROBLEM counts-card: DATASET_CARD.md: no readable split sizes (YAML front "
                                  "matter is malformed at line 2: expected the node content, but found '<stream end>')"]),
    "handled-verify-build-json-nested-100000-deep": Case(
        _verify_nested_build_json, 1, [], ["  PROBLEM counts-build: build.json: no readable counts (JSON nested too "
                                           "deeply)"]),
    "handled-verify-jpeg-named-png-mask": Case(
        _verify_jpeg_mask, 1, [], ["  PROBLEM decode: masks/Cam0-0000_a.png: a JPEG named .png (bad PNG signature)"]),
    "handled-verify-png-bomb-as-mask": Case(
        _verify_bomb_mask, 1, [], ["  PROBLEM decode: masks/Cam0-0000_a.png: " + BOMB_LINE]),
    "error-verify-on-a-file": Case(
        _verify_file, 1, ["ccharmony verify: error: dataset path {ds}/Synthtrain.txt is a file, not a folder; give "
                          "the dataset folder"]),
    "handled-verify-json-with-a-long-valid-name": Case(_verify_json_long_name, 0, []),
    "handled-report-symlinked-composite-pointing-outside": Case(
        _report_symlink_out, 0, ["not shown: {ds}/composite_images/Cam0-0000_a_1.jpg: leads outside {ds} (to "
                                 "{work}/outside/x_a_1.jpg); not shown"], then=_no_outside_thumbnail),
    "handled-report-model-name-leaving-the-run-folder": Case(
        _report_model_traversal, 0, [], then=_no_outside_prediction),
    "error-report-on-a-file": Case(
        _report_on_file, 1, ["ccharmony report: error: {ds}/Synthtrain.txt: is a file, not a folder; give the "
                             "dataset folder (give the folder `ccharmony build --out` wrote)"]),
    "handled-report-png-bomb-as-mask": Case(
        _report_bomb_mask, 0, ["not shown: {ds}/masks/Cam0-0000_a.png: " + BOMB_LINE]),
    "handled-report-jpeg-named-png-mask": Case(
        _report_jpeg_mask, 0, ["not shown: {ds}/masks/Cam0-0000_a.png: file content is JPEG but the extension "
                               "says PNG; a mask must be a lossless PNG"]),
    "error-report-build-json-nested-100000-deep": Case(
        _report_nested_build_json, 1, ["ccharmony report: error: {ds}/build.json: cannot read build information "
                                       "(JSON nested too deeply)"]),
    "handled-report-html-in-the-title-is-escaped": Case(_report_html_title, 0, [], then=_title_escaped),
    "handled-verify-yaml-python-tag-is-not-run": Case(
        _verify_yaml_tag, 1, [], ["  PROBLEM counts-card: DATASET_CARD.md: no readable split sizes (YAML front "
                                  "matter is malformed at line 2: could not determine a constructor for the tag "
                                  "'tag:yaml.org,2002:python/object/apply:os.system')"], then=_tag_not_run),
    "handled-report-list-line-with-dots-stays-inside": Case(
        _report_list_traversal, 0, ["not shown: {ds}/composite_images/x_a_1.jpg: file is missing",
                                    "not shown: {ds}/real_images/x.jpg: file is missing"],
        then=_list_line_kept_inside),
    "error-report-fifo-as-split-list": Case(
        _report_fifo_list, 1, ["ccharmony report: error: {ds}/Synthtest.txt: is a FIFO (named pipe), not a split "
                               "list; ccharmony reads only regular files"]),
}

_NEEDS_BOMB = {_detect_bomb, _verify_bomb_mask, _report_bomb_mask}


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in CASES])
def test_hostile_read(name: str, template: Path, bomb: Path, tmp_path: Path, cli: ForkedCLI) -> None:
    case = CASES[name]
    work = tmp_path / "work"
    work.mkdir()
    ds = Path(shutil.copytree(template, tmp_path / "ds", symlinks=True))
    prepare = case.prepare
    args = prepare(work, ds, bomb) if prepare in _NEEDS_BOMB else prepare(work, ds)  # type: ignore[call-arg]
    before = snapshot(ds)
    done = cli.run(*args, cwd=work, timeout=TIMEOUT)
    stdout, stderr = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # strict: both are valid UTF-8
    assert "Traceback" not in stderr, stderr
    assert done.returncode == case.status, (done.returncode, stderr, stdout[-2000:])

    def fill(text: str) -> str:
        return text.replace("{work}", str(work)).replace("{ds}", str(ds)).replace("{bomb}", str(bomb))

    if case.stderr is not None:
        assert stderr.splitlines() == [fill(line) for line in case.stderr]
    for line in case.stdout:
        assert fill(line) in stdout.splitlines(), stdout
    for text in case.absent:
        assert text not in stdout and text not in stderr
    assert snapshot(ds) == before, "the dataset folder was changed"
    if case.then is not None:
        case.then(work, ds)


# --- the same, where the outcome needs more than one command or a measurement ---------------------


def test_png_bomb_is_refused_before_any_large_allocation(bomb: Path) -> None:
    """`detect` on a 1.2 MB PNG of 20000 x 20000 pixels stays at the memory of its imports (8.4 GB before)."""
    # VmHWM is the high-water mark of this process's own address space (since exec); ru_maxrss
    # would carry over the forking parent's peak (pytest's, after the rest of the suite).
    code = ("import re\n"
            "from ccharmony.cli import main\n"
            f"status = main(['detect', {str(bomb)!r}])\n"
            "status_text = open('/proc/self/status').read()\n"
            "peak = int(re.search(r'VmHWM:\\s+(\\d+) kB', status_text).group(1)) / 1024\n"
            "print(f'{status} {peak:.0f}')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    status, peak_mb = done.stdout.split()
    assert status == "1" and BOMB_LINE in done.stderr
    # Importing the detector peaks at about 220 MB; the decoded image alone would be 1144 MB
    # (8.4 GB through detection before the limit).
    assert float(peak_mb) < 600, peak_mb


def test_read_only_json_destination_names_the_destination(template: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A destination that cannot be written is named in the error, never the temporary file."""
    import tempfile

    from ccharmony.dataset.verify import verify_dataset
    from ccharmony.errors import DatasetError

    report = verify_dataset(template, progress=False)
    destination = tmp_path / "verify.json"
    temporaries: list[str] = []

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        name = str(tmp_path / ".verify-abc123.tmp")
        temporaries.append(name)
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(DatasetError) as caught:
        report.write_json(destination)
    assert str(caught.value) == f"cannot write report {destination}: Permission denied"
    assert temporaries and temporaries[0] not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_read_only_json_destination_cli(template: Path, tmp_path: Path, cli: ForkedCLI) -> None:
    """The same through the CLI, where permissions bind (they do not for root)."""
    if os.geteuid() == 0:
        destination = tmp_path / "file.txt" / "verify.json"  # below a regular file: unwritable even for root
        (tmp_path / "file.txt").write_text("x")
        expected = f"folder {tmp_path / 'file.txt'} does not exist"
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        destination = folder / "verify.json"
        expected = f"folder {folder} is not writable"
    done = cli.run("verify", str(template), "--json", str(destination))
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [f"ccharmony verify: error: cannot write report {destination}: {expected}"]
    assert done.stdout == b""  # refused before the checks ran


def _write_checkpoint_inputs(work: Path, template: Path) -> tuple[Path, Path]:
    composite = work / "comp.jpg"
    shutil.copy(template / COMPOSITE, composite)
    mask = work / "mask.png"
    shutil.copy(template / MASK, mask)
    return composite, mask


@pytest.mark.parametrize(("name", "extra", "status", "line"), [pytest.param(*case, id=case[0]) for case in [
    ("error-harmonize-size-0", ["--size", "0"], 2,
     "ccharmony harmonize: error: argument --size: must be a whole number from 16 to 2048, got '0'"),
    ("error-harmonize-size-negative", ["--size", "-5"], 2,
     "ccharmony harmonize: error: argument --size: must be a whole number from 16 to 2048, got '-5'"),
    ("error-harmonize-size-huge", ["--size", "100000"], 2,
     "ccharmony harmonize: error: argument --size: must be a whole number from 16 to 2048, got '100000'"),
]])
def test_hostile_harmonize_usage(name: str, extra: list[str], status: int, line: str, template: Path,
                                 checkpoint: Path, tmp_path: Path, cli: ForkedCLI) -> None:
    composite, mask = _write_checkpoint_inputs(tmp_path, template)
    done = cli.run("harmonize", "--checkpoint", str(checkpoint), str(composite), str(mask), "-o",
                   str(tmp_path / "out.png"), *extra)
    stderr = done.stderr.decode()
    assert done.returncode == status and "Traceback" not in stderr
    assert stderr.splitlines()[-1] == line
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in (
    "handled-harmonize-writes-the-format-the-extension-names",
    "error-harmonize-unknown-output-extension",
    "error-harmonize-png-bomb-composite",
    "error-harmonize-jpeg-named-png-mask",
    "error-harmonize-fifo-composite",
)])
def test_hostile_harmonize(name: str, template: Path, checkpoint: Path, bomb: Path, tmp_path: Path,
                           cli: ForkedCLI) -> None:
    composite, mask = _write_checkpoint_inputs(tmp_path, template)
    output = tmp_path / "out.jpg"
    expected_status, line = 0, None
    if name == "error-harmonize-unknown-output-extension":
        output = tmp_path / "out.bmp"
        expected_status, line = 2, ("ccharmony harmonize: error: argument -o/--output: must end in .png, .jpg or "
                                    f".jpeg (the format written follows the extension), got '{output}'")
    elif name == "error-harmonize-png-bomb-composite":
        composite = Path(shutil.copy(bomb, tmp_path / "comp.png"))
        expected_status, line = 1, f"ccharmony harmonize: error: {composite}: {BOMB_LINE}"
    elif name == "error-harmonize-jpeg-named-png-mask":
        grey = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
        mask.write_bytes(jpeg(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), 95))
        expected_status, line = 1, (f"ccharmony harmonize: error: {mask}: file content is JPEG but the extension "
                                    "says PNG; a mask must be the format its name says (a lossless PNG)")
    elif name == "error-harmonize-fifo-composite":
        composite.unlink()
        _fifo(composite)
        expected_status, line = 1, (f"ccharmony harmonize: error: {composite}: is a FIFO (named pipe), not an "
                                    "image file; ccharmony reads only regular files")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (mask,)}
    done = cli.run("harmonize", "--checkpoint", str(checkpoint), str(composite), str(mask), "-o", str(output))
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr and done.returncode == expected_status, stderr
    if line is None:
        data = output.read_bytes()
        assert data[:3] == b"\xff\xd8\xff", "a .jpg output must hold JPEG bytes"
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (64, 96, 3)
        assert done.stdout.decode().strip() == f"{output}: harmonized with unet at 32x32"
    else:
        assert stderr.splitlines()[-1] == line
        assert len(stderr.splitlines()) == (1 if expected_status == 1 else len(stderr.splitlines()))
        assert not output.exists()
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (mask,)} == before


# --- library level ----------------------------------------------------------------------------------


def test_readers_refuse_before_decoding(bomb: Path, tmp_path: Path) -> None:
    """Every image reader of ccharmony.io refuses the bomb with the same line (read_image, masks, sRGB, bytes)."""
    from ccharmony.errors import ImageTooLargeError
    from ccharmony.io import IngestOptions, read_image, read_srgb8
    from ccharmony.io.encode import decode_image, decode_mask

    data = bomb.read_bytes()
    for read in (lambda: read_image(bomb), lambda: read_srgb8(bomb), lambda: decode_mask(bomb),
                 lambda: decode_image(data, name="bomb.png")):
        with pytest.raises(ImageTooLargeError, match=r"image is 20000x20000 pixels .* --max-pixels 400000000"):
            read()
    small = write(tmp_path / "small.png", png(np.zeros((20, 30, 3), np.uint8)))
    with pytest.raises(ImageTooLargeError, match=r"image is 30x20 pixels \(0\.0 megapixels\)"):
        read_image(small, IngestOptions(max_pixels=599))
    assert read_image(small, IngestOptions(max_pixels=600)).shape == (20, 30)
