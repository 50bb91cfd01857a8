"""
Hostile input on the build side: ``ccharmony build`` given bad pipelines, annotations, photos and folders.

Every case runs the command as a user would: in its own process (a child forked from a preloaded
interpreter, ``tests/io/forked_cli.py``, so that dozens of cases take seconds; the cases that
patch the interpreter, interrupt it or race two builds use real ``python`` subprocesses), with
relative paths from a working folder, and a timeout so that a hang fails. Each asserts the
outcome: the exit status, the one stderr line that names the file (exactly), no traceback, and
that the files it was given (and a folder it refused) are untouched. Case ids start with
``error-`` (one clear error line, non-zero exit) or ``handled-`` (a documented handling: the
image skipped with its reason in the summary and ``build.json``, a shortfall recorded, a
resumed or repaired build byte-identical to an uninterrupted one).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
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
from build_helpers import build_json, tree  # noqa: E402
from forked_cli import ForkedCLI  # noqa: E402
from hostile_images import png_header  # noqa: E402

from ccharmony.dataset.builder import BuildOptions, build_dataset  # noqa: E402
from ccharmony.dataset.config import Pipeline  # noqa: E402

TIMEOUT = 180
K = 2
NAME_RULE = ("name must be a dataset name (1-64 letters, digits, '.' and '-', starting with a letter or digit and "
             "ending with a letter; no '_', '/' or '..')")
REBUILD = "run again with --rebuild to rebuild it from the current inputs, or use another --out"


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():  # noqa: ANN201
    """``cli.run(*args, cwd=...)``: each command in its own forked process."""
    runner = ForkedCLI()
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five small synthetic captures with their annotation set (masks, crops, corners, lists)."""
    from ccharmony.synth import synthesize

    root = tmp_path_factory.mktemp("hostile-scenes")
    synthesize(root, count=5, seed=3, size=(240, 160), relit=False)
    return root


def copy_scenes(scenes: Path, work: Path) -> Path:
    """``work/s``: a private copy of the scenes (``s/raw``, ``s/annotations``)."""
    work.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(scenes, work / "s"))


BUILD = ["build", "--raw-dir", "s/raw", "--annotations", "s/annotations", "--out", "ds", "--k", str(K),
         "--seed", "1", "--no-progress"]


def reference_build(raw_root: Path, out: Path, *, k: int = K, seed: int = 1) -> Path:
    """The same build through the library (what the CLI must equal, byte for byte)."""
    build_dataset(BuildOptions(out=out, raw_dir=raw_root / "raw", annotations=raw_root / "annotations",
                               pipeline=Pipeline(k=k), seed=seed, progress=False))
    return out


def text_lines(data: bytes) -> list[str]:
    """The lines of a stream, which must be strict UTF-8 (terminal-safe)."""
    return data.decode("utf-8", errors="strict").splitlines()




def images_of(root: Path) -> dict[str, list[str]]:
    """Image name -> its foreground letters, from the masks."""
    found: dict[str, list[str]] = {}
    for mask in sorted((root / "annotations" / "masks").glob("*.png")):
        image, letter = mask.stem.rsplit("_", 1)
        found.setdefault(image, []).append(letter)
    return found


def split_of(root: Path) -> dict[str, str]:
    """Image name -> the split its list lines put it in."""
    out = {}
    for split in ("train", "test"):
        for line in (root / "annotations" / f"{split}_list.txt").read_text().split():
            out[line.rsplit("_", 1)[0]] = split
    return out


def write_pipeline(work: Path, text: str) -> list[str]:
    (work / "p.yaml").write_text(text)
    return [*BUILD, "--pipeline", "p.yaml"]


def one_error(result: subprocess.CompletedProcess, expected: str, *, status: int = 1) -> None:
    """The command failed with ``status`` and said exactly ``expected`` as its one (last) stderr line."""
    err = text_lines(result.stderr)
    assert "Traceback" not in result.stderr.decode("utf-8", "replace"), result.stderr.decode()
    assert result.returncode == status, (result.returncode, err)
    assert err and err[-1] == expected, err
    if status == 1:  # a run-time failure says one line; a usage error's line follows argparse's usage text
        assert len(err) == 1, err


# --- error cases: one clear line, nothing written ----------------------------------------------


@dataclass
class Case:
    """One hostile input for a build that must be refused."""

    prepare: Callable[[Path, Path], list[str]]
    """(work folder, scenes copy ``work/s``) -> the command's arguments (run with cwd=work)."""
    line: str
    """The exact stderr line ({work} is replaced)."""
    status: int = 1
    creates_out: bool = False
    """Whether ``ds`` may exist afterwards (an earlier build wrote it); else it must not exist."""
    absent: list[str] = field(default_factory=list)
    """Paths (relative to work, '..' allowed) that must not exist afterwards: writes outside."""


def _move_lists(work: Path, s: Path, *, into: str) -> list[str]:
    lines = (s / "annotations" / "train_list.txt").read_text() + (s / "annotations" / "test_list.txt").read_text()
    for split in ("train", "test"):
        (s / "annotations" / f"{split}_list.txt").write_text(lines if split == into else "")
    return BUILD


def _conflicting_lists(work: Path, s: Path) -> list[str]:
    image = next(name for name, letters in images_of(s).items() if len(letters) > 1)
    (s / "annotations" / "train_list.txt").write_text(f"{image}_a\n")
    (s / "annotations" / "test_list.txt").write_text(f"{image}_b\n")
    (work / "image.txt").write_text(image)
    return BUILD


def _fifo_list(work: Path, s: Path) -> list[str]:
    (s / "annotations" / "train_list.txt").unlink()
    os.mkfifo(s / "annotations" / "train_list.txt")
    return BUILD


def _non_utf8_mask(work: Path, s: Path) -> list[str]:
    masks = os.fsencode(s / "annotations" / "masks")
    first = sorted((s / "annotations" / "masks").glob("*.png"))[0]
    shutil.copy(first, os.fsdecode(masks + b"/caf\xe9_a.png"))
    shutil.copy(sorted((s / "raw").glob("*.dng"))[0], os.fsdecode(os.fsencode(s / "raw") + b"/caf\xe9.dng"))
    return BUILD


def _foreign_out(work: Path, s: Path) -> list[str]:
    (work / "ds").mkdir()
    (work / "ds" / "notes.txt").write_text("keep me")
    return BUILD


def _out_is_a_file(work: Path, s: Path) -> list[str]:
    (work / "ds").write_text("a file")
    return BUILD


def _victim(work: Path, s: Path) -> list[str]:
    (work / "victimtrain.txt").write_text("keep me")
    return write_pipeline(work, f"name: {work}/victim\n")


ERRORS = {
    # Pipeline `name` is a name, not a path.
    "error-name-absolute-path": Case(_victim, f"ccharmony build: error: p.yaml: {NAME_RULE}, got '{{work}}/victim' (a string)"),
    "error-name-escapes-upwards": Case(
        lambda w, s: write_pipeline(w, "name: ../../../ESCAPED\n"),
        f"ccharmony build: error: p.yaml: {NAME_RULE}, got '../../../ESCAPED' (a string)",
        absent=["../../../ESCAPEDtrain.txt", "../../../ESCAPEDtest.txt"]),
    "error-name-subfolder": Case(lambda w, s: write_pipeline(w, "name: a/b\n"),
                                 f"ccharmony build: error: p.yaml: {NAME_RULE}, got 'a/b' (a string)"),
    # Pipeline values are type-checked when the file is loaded.
    "error-bool-given-a-string": Case(
        lambda w, s: write_pipeline(w, 'same_camera: "no"\n'),
        "ccharmony build: error: p.yaml: same_camera must be true or false (a YAML boolean, unquoted), got 'no' (a string)"),
    "error-bool-given-false-string": Case(
        lambda w, s: write_pipeline(w, 'half_size: "false"\n'),
        "ccharmony build: error: p.yaml: half_size must be true or false (a YAML boolean, unquoted), got 'false' (a string)"),
    "error-int-given-a-bool": Case(lambda w, s: write_pipeline(w, "k: true\n"),
                                   "ccharmony build: error: p.yaml: k must be an integer from 1 to 1000, got true (a boolean)"),
    "error-int-given-a-fraction": Case(
        lambda w, s: write_pipeline(w, "jpeg_quality: 95.7\n"),
        "ccharmony build: error: p.yaml: jpeg_quality must be an integer from 1 to 100, got 95.7 (a number)"),
    "error-negative-margin": Case(
        lambda w, s: write_pipeline(w, "crop_margin: -50\n"),
        "ccharmony build: error: p.yaml: crop_margin must be a number from 0 to 10000, got -50 (an integer)"),
    "error-k-out-of-range": Case(lambda w, s: write_pipeline(w, "k: 100000\n"),
                                 "ccharmony build: error: p.yaml: k must be an integer from 1 to 1000, got 100000 (an integer)"),
    "error-angle-given-a-string": Case(
        lambda w, s: write_pipeline(w, 'min_angle_deg: "x"\n'),
        "ccharmony build: error: p.yaml: min_angle_deg must be a number from 0 to 180, got 'x' (a string)"),
    "error-yaml-python-tag": Case(  # safe_load: no object is ever constructed
        lambda w, s: write_pipeline(w, '!!python/object/apply:os.system ["touch pwned"]\n'),
        "ccharmony build: error: p.yaml: not a readable YAML file (could not determine a constructor for the "
        "tag 'tag:yaml.org,2002:python/object/apply:os.system')", absent=["pwned"]),
    "error-k-flag-zero": Case(lambda w, s: [*BUILD, "--k", "0"],
                              "ccharmony build: error: argument --k: must be a whole number from 1 to 1000, got '0'",
                              status=2),
    # Splits: never an empty one, never an image cut in two.
    "error-empty-test-split": Case(
        lambda w, s: _move_lists(w, s, into="train"),
        "ccharmony build: error: ds: the test split would be empty: all 5 image(s) are listed in "
        "{work}/s/annotations/train_list.txt; list at least one image's foregrounds in {work}/s/annotations/test_list.txt"),
    "error-empty-train-split": Case(
        lambda w, s: _move_lists(w, s, into="test"),
        "ccharmony build: error: ds: the train split would be empty: all 5 image(s) are listed in "
        "{work}/s/annotations/test_list.txt; list at least one image's foregrounds in {work}/s/annotations/train_list.txt"),
    "error-image-in-both-splits": Case(
        _conflicting_lists,
        "ccharmony build: error: image '{image}' is in both splits: foreground '{image}_a' in "
        "{work}/s/annotations/train_list.txt:1 (train) and '{image}_b' in {work}/s/annotations/test_list.txt:1 (test); "
        "list all foregrounds of an image in one split (an image in both would leak into the test)"),
    # Only regular files are read: a FIFO never blocks the build.
    "error-fifo-split-list": Case(
        _fifo_list,
        "ccharmony build: error: {work}/s/annotations/train_list.txt: is a FIFO (named pipe), not a split list; "
        "ccharmony reads only regular files"),
    # A file name that is not UTF-8 is shown escaped, and cannot become a dataset id.
    "error-non-utf8-mask-name": Case(
        _non_utf8_mask,
        "ccharmony build: error: {work}/s/annotations/masks/caf\\xe9_a.png: image name 'caf\\udce9' cannot be a "
        "dataset id: use letters, digits, '.', '-' and '_' only; rename the mask (and its photo)"),
    # Held up before: a folder the build did not write is never touched.
    "error-foreign-out": Case(_foreign_out,
                              "ccharmony build: error: ds: folder is not empty and holds no ccharmony build; use another --out",
                              creates_out=True),
    "error-out-is-a-file": Case(_out_is_a_file, "ccharmony build: error: ds: output path exists and is not a folder",
                                creates_out=True),
}


@pytest.mark.parametrize("case", list(ERRORS.values()), ids=list(ERRORS))
def test_refused_inputs(case: Case, cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    args = case.prepare(work, s)
    before = snapshot(work)
    result = cli.run(*args, cwd=work, timeout=TIMEOUT)
    image = (work / "image.txt").read_text() if (work / "image.txt").exists() else ""
    one_error(result, case.line.format(work=work, image=image), status=case.status)
    assert snapshot(work) == before  # inputs untouched; no output folder, lock file or list written
    if not case.creates_out:
        assert not (work / "ds").exists()
    for path in case.absent:
        assert not (work / path).exists()


def test_unreadable_raw_dir_says_why(cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    """error-unreadable-raw-dir: "permission denied", not "only 0 usable image(s)"."""
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    expected = f"ccharmony build: error: {s / 'raw'}: cannot read the --raw-dir folder (permission denied)"
    if os.geteuid() != 0:
        (s / "raw").chmod(0)
        try:
            result = cli.run(*BUILD, cwd=work, timeout=TIMEOUT)
        finally:
            (s / "raw").chmod(0o755)
    else:  # root reads any folder: the kernel's refusal is stood in for at the system call
        script = (
            "import errno, os, sys\n"
            "real = os.scandir\n"
            "def scandir(path='.'):\n"
            "    if os.fspath(path).endswith('/s/raw'):\n"
            "        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))\n"
            "    return real(path)\n"
            "os.scandir = scandir\n"
            "from ccharmony.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n"
        )
        result = subprocess.run([sys.executable, "-c", script, *BUILD], cwd=work, capture_output=True,
                                timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    one_error(result, expected)
    assert not (work / "ds").exists()


# --- handled cases: one build of a set with a hostile input per image ---------------------------


@dataclass
class Hostile:
    """One image made hostile: how, and the exact skip line the build prints (or a fragment)."""

    spoil: Callable[[Path, str], None]
    line: str | None
    """The exact warning after "ccharmony build: warning: " ({root}, {image} replaced); None: see ``fragment``."""
    fragment: str = ""
    """For reasons worded by the readers of ccharmony.io / checker: what the line must contain."""


def _masks(root: Path, image: str) -> list[Path]:
    return sorted((root / "annotations" / "masks").glob(f"{image}_*.png"))


def _replace_masks(root: Path, image: str, width: int, height: int) -> None:
    for mask in _masks(root, image):
        picture = np.zeros((height, width), np.uint8)
        picture[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
        cv2.imwrite(str(mask), picture)


def _saturate(root: Path, image: str) -> None:
    """Every pixel at the white level: every patch of the chart clipped."""
    import tifffile

    from ccharmony.io.dng import write_dng

    truth = json.loads((root / "truth" / f"{image}.json").read_text())
    dng = root / "raw" / f"{image}.dng"
    raw = tifffile.imread(dng)
    sensor = truth["sensor"]
    write_dng(dng, np.full_like(raw, sensor["white_level"]), cfa_pattern=sensor["cfa_pattern"],
              black_level=sensor["black_level"], white_level=sensor["white_level"],
              colour_matrix=np.asarray(truth["colour_matrix"]), as_shot_neutral=np.asarray(truth["as_shot_neutral"]),
              make=truth["make"], model=truth["model"], unique_camera_model=f"{truth['make']} {truth['model']}")


def _zero_patch_colours(root: Path, image: str) -> None:
    folder = root / "annotations" / "patch_colors"
    folder.mkdir(exist_ok=True)
    (folder / f"{image}.csv").write_text("0,0,0\n" * 24)


def _fifo_photo(root: Path, image: str) -> None:
    (root / "raw" / f"{image}.dng").unlink()
    os.mkfifo(root / "raw" / f"{image}.dng")


def _huge_header(root: Path, image: str) -> None:
    (root / "raw" / f"{image}.dng").unlink()
    (root / "raw" / f"{image}.png").write_bytes(png_header(20000, 20000) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _jpeg_mask(root: Path, image: str) -> None:
    for mask in _masks(root, image):
        picture = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
        mask.write_bytes(cv2.imencode(".jpg", picture)[1].tobytes())


def _tiny_real_image(root: Path, image: str) -> None:
    _replace_masks(root, image, 20, 150)  # the crop is inferred from the masks: 20 pixels wide
    (root / "annotations" / "crops" / f"{image}.json").unlink()


HOSTILE = {
    "handled-every-patch-clipped": Hostile(
        _saturate,
        "skipped {image}: {root}/annotations/checkers/{image}.json: no illuminant can be estimated from the chart's "
        "neutral patches (every neutral patch is clipped, too dark or zero); the image is left out"),
    "handled-all-zero-patch-colours": Hostile(
        _zero_patch_colours,
        "skipped {image}: {root}/annotations/patch_colors/{image}.csv: the 24 patch colours are all zero; they "
        "cannot come from a ColorChecker"),
    "handled-checker-json-nested-100000-deep": Hostile(
        lambda root, image: (root / "annotations" / "checkers" / f"{image}.json").write_text("[" * 100000 + "]" * 100000),
        None, fragment="{root}/annotations/checkers/{image}.json: "),
    "handled-four-identical-corners": Hostile(
        lambda root, image: (root / "annotations" / "checkers" / f"{image}.json").write_text(
            json.dumps({"corners": [[60, 60]] * 4})),
        None, fragment="{root}/annotations/checkers/{image}.json: corners [[60.0, 60.0], [60.0, 60.0], [60.0, 60.0], "
                       "[60.0, 60.0]] are not a chart"),
    "handled-fifo-photo": Hostile(
        _fifo_photo,
        "skipped {image}: {root}/raw/{image}.dng: is a FIFO (named pipe), not a photo; ccharmony reads only regular files"),
    "handled-unreadable-photo": Hostile(
        lambda root, image: (root / "raw" / f"{image}.dng").write_bytes(b"\xff\xd8\xff\xe0 a JPEG header in a .dng"),
        None, fragment="{root}/raw/{image}.dng: "),
    "handled-photo-header-above-pixel-limit": Hostile(
        _huge_header, None,
        fragment="{root}/raw/{image}.png: image is 20000x20000 pixels (400.0 megapixels), above the limit of 200.0 "
                 "megapixels; pass --max-pixels 400000000 to read it"),
    "handled-jpeg-named-png-mask": Hostile(
        _jpeg_mask,
        "skipped {image}: {root}/annotations/masks/{image}_a.png: is JPEG data, not PNG; masks must be lossless PNG "
        "files (a JPEG's edges are not two-level)"),
    "handled-mask-stretched-onto-its-crop": Hostile(
        lambda root, image: _replace_masks(root, image, 200, 10),
        "skipped {image}: {root}/annotations/masks/{image}_a.png: mask is 200x10 pixels but its crop is {crop}; a mask "
        "must be the crop's size or a resize of it (aspect ratio within 2%)"),
    "handled-real-image-20-pixels-wide": Hostile(
        _tiny_real_image,
        "skipped {image}: {root}/annotations/masks/{image}_a.png: the real image would be 20x150 pixels, below the "
        "minimum of 32 a side (check the mask's size and the crop)"),
    "handled-mask-larger-than-photo": Hostile(
        lambda root, image: _replace_masks(root, image, 10, 1000),
        "skipped {image}: {root}/annotations/masks/{image}_a.png: mask is 10x1000 pixels, larger than the 240x160 "
        "photo; a mask is at most the photo's size"),
    "handled-crop-box-named-once": Hostile(
        lambda root, image: (root / "annotations" / "crops" / f"{image}.json").write_text(
            json.dumps({"x": -1, "y": 0, "width": 50, "height": 50})),
        "skipped {image}: {root}/annotations/crops/{image}.json: needs x, y >= 0 and width, height > 0, got "
        "{{'x': -1, 'y': 0, 'width': 50, 'height': 50}}"),
    "handled-fifo-among-patch-colours": Hostile(  # the chart annotation is used instead; the FIFO is reported
        lambda root, image: (root / "annotations" / "patch_colors").mkdir(exist_ok=True)
        or os.mkfifo(root / "annotations" / "patch_colors" / f"{image}.csv"),
        "{root}/annotations/patch_colors/{image}.csv: is a FIFO (named pipe), not an annotation file (ignored)"),
}
# Inputs that change nothing but must not break the build, on the images that stay in it.
EXTRAS = {
    "handled-fifo-among-masks": "{root}/annotations/masks/{good}_z.png: is a FIFO (named pipe), not a mask file (ignored)",
    "handled-list-line-with-path-traversal": "{root}/annotations/train_list.txt:{line}: '../../../etc/passwd_a' names "
                                             "no mask (ignored)",
}


@pytest.fixture(scope="module")
def hostile_build(cli: ForkedCLI, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One build of 16 captures: 3 sound, 13 with one hostile input each (and a few harmless oddities)."""
    from ccharmony.synth import synthesize

    work = tmp_path_factory.mktemp("hostile-set")
    root = work / "set"
    synthesize(root, count=16, seed=3, size=(240, 160), relit=False)
    splits = split_of(root)
    names = sorted(splits)
    good = [n for n in names if splits[n] == "train"][:2] + [n for n in names if splits[n] == "test"][:1]
    bad = dict(zip(HOSTILE, [n for n in names if n not in good]))
    crops = {}
    for case, image in bad.items():
        crop = json.loads((root / "annotations" / "crops" / f"{image}.json").read_text())
        crops[case] = f"{crop['width']}x{crop['height']}"
        HOSTILE[case].spoil(root, image)
    os.mkfifo(root / "annotations" / "masks" / f"{good[0]}_z.png")
    with open(root / "annotations" / "train_list.txt", "a") as handle:
        handle.write("../../../etc/passwd_a\n")
    line = len((root / "annotations" / "train_list.txt").read_text().splitlines())
    # A photo whose name is not UTF-8 and that no mask names: not read, and no trouble.
    shutil.copy(root / "raw" / f"{good[0]}.dng", os.fsdecode(os.fsencode(root / "raw") + b"/caf\xe9.dng"))
    before = snapshot(root)
    started = time.perf_counter()
    result = cli.run("build", "--raw-dir", "set/raw", "--annotations", "set/annotations", "--out", "ds",
                     "--k", str(K), "--no-progress", cwd=work, timeout=TIMEOUT)
    return {"result": result, "root": root, "work": work, "good": good, "bad": bad, "crops": crops, "line": line,
            "before": before, "seconds": time.perf_counter() - started}


def test_hostile_set_builds_from_the_sound_images(hostile_build: dict) -> None:
    result, work = hostile_build["result"], hostile_build["work"]
    err = text_lines(result.stderr)
    assert result.returncode == 0, err
    assert "Traceback" not in result.stderr.decode()
    # The three sound images and the one whose patch colour file is a FIFO (built from its chart).
    kept = sorted([*hostile_build["good"], hostile_build["bad"]["handled-fifo-among-patch-colours"]])
    assert text_lines(result.stdout)[0].startswith(f"built ds: {len(kept)} images, ")
    assert snapshot(hostile_build["root"]) == hostile_build["before"]  # the inputs are untouched
    frame = pd.read_parquet(work / "ds" / "metadata.parquet")
    assert sorted(set(frame.source_image)) == kept
    # Nothing non-finite reaches the metadata.
    for column in ("illuminant_angle_deg", "foreground_ratio"):
        assert np.all(np.isfinite(frame[column].to_numpy(dtype=float)))
    for column in ("source_illuminant", "target_illuminant", "source_illuminant_srgb", "target_illuminant_srgb"):
        assert np.all(np.isfinite(np.stack(frame[column].to_list()).astype(float)))
    assert all(math.isfinite(v) for row in frame.transfer for v in _numbers(json.loads(row)))
    # Every warning is one of the expected lines: nothing else was said.
    assert len(err) == len(HOSTILE) + len(EXTRAS), err


def _numbers(value: object) -> list[float]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_image_is_skipped_with_its_reason(case: str, hostile_build: dict) -> None:
    result, root = hostile_build["result"], hostile_build["root"]
    image = hostile_build["bad"][case]
    hostile = HOSTILE[case]
    warnings = [line.removeprefix("ccharmony build: warning: ") for line in text_lines(result.stderr)]
    assert result.returncode == 0
    build = json.loads((hostile_build["work"] / "ds" / "build.json").read_text())
    reasons = {item["image"]: item["reason"] for item in build["skipped"]}
    if case == "handled-fifo-among-patch-colours":
        # Not a skip: the image is built from its chart annotation, the FIFO reported and never opened.
        assert hostile.line is not None
        assert hostile.line.format(root=root, image=image) in warnings
        assert image not in reasons
        return
    if hostile.line is not None:
        expected = hostile.line.format(root=root, image=image, crop=hostile_build["crops"][case])
        assert expected in warnings, warnings
        assert f"skipped {image}: {reasons[image]}" == expected
    else:
        fragment = hostile.fragment.format(root=root, image=image)
        line = next(w for w in warnings if w.startswith(f"skipped {image}: "))
        assert fragment in line, line
        assert reasons[image] in line


@pytest.mark.parametrize("case", list(EXTRAS), ids=list(EXTRAS))
def test_harmless_oddities_are_reported(case: str, hostile_build: dict) -> None:
    warnings = [line.removeprefix("ccharmony build: warning: ") for line in text_lines(hostile_build["result"].stderr)]
    expected = EXTRAS[case].format(root=hostile_build["root"], good=hostile_build["good"][0],
                                   line=hostile_build["line"])
    assert expected in warnings, warnings


# --- changed inputs, damaged outputs, rebuilds --------------------------------------------------


def _replace_photo(work: Path, s: Path) -> str:
    photos = sorted((s / "raw").glob("*.dng"))
    shutil.copy(photos[1], photos[0])
    return f"raw_dir/{photos[0].name} changed"


def _delete_mask_and_lines(work: Path, s: Path) -> str:
    image, letters = next((name, letters) for name, letters in images_of(s).items() if len(letters) > 1)
    (s / "annotations" / "masks" / f"{image}_{letters[-1]}.png").unlink()
    split = split_of(s)[image]
    listed = s / "annotations" / f"{split}_list.txt"
    listed.write_text("".join(f"{line}\n" for line in listed.read_text().split() if line != f"{image}_{letters[-1]}"))
    return f"annotations/masks/{image}_{letters[-1]}.png removed, annotations/{split}_list.txt changed"


@pytest.mark.parametrize("change", [_replace_photo, _delete_mask_and_lines], ids=["replaced-photo", "deleted-mask-and-its-list-line"])
def test_changed_inputs_are_detected_then_rebuilt(change: Callable[[Path, Path], str], cli: ForkedCLI, scenes: Path,
                                                  tmp_path: Path) -> None:
    """error-changed-inputs (refused, saying what changed), then handled-rebuild (as a fresh build of them)."""
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    reference_build(s, work / "ds")  # what `ccharmony build` BUILD writes (tested below), in this process
    what = change(work, s)
    before = snapshot(work)
    refused = cli.run(*BUILD, cwd=work, timeout=TIMEOUT)
    one_error(refused, f"ccharmony build: error: ds: holds a build of other inputs or settings ({what}); {REBUILD}")
    assert snapshot(work) == before
    rebuilt = cli.run(*BUILD, "--rebuild", cwd=work, timeout=TIMEOUT)
    assert rebuilt.returncode == 0, rebuilt.stderr.decode()
    fresh = reference_build(s, tmp_path / "fresh")
    assert tree(work / "ds") == tree(fresh)
    assert build_json(work / "ds") == build_json(fresh)


def test_other_seed_is_refused(cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    """error-other-seed: a folder built with seed 1 is not mixed with seed 2."""
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    reference_build(s, work / "ds")
    before = snapshot(work)
    refused = cli.run(*BUILD, "--seed", "2", cwd=work, timeout=TIMEOUT)
    one_error(refused, f"ccharmony build: error: ds: holds a build of other inputs or settings (seed 1 -> 2); {REBUILD}")
    assert snapshot(work) == before


@pytest.mark.parametrize("damage", ["deleted", "changed"])
def test_damaged_output_is_detected_then_repaired(damage: str, cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    """error-damaged-output (refused, naming the file), then handled-rebuild (byte-identical again)."""
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    reference_build(s, work / "ds")
    original = tree(work / "ds")
    victim = sorted((work / "ds" / "composite_images").glob("*.jpg"))[0]
    if damage == "deleted":
        victim.unlink()
        said = "is missing"
    else:
        victim.write_bytes(victim.read_bytes()[:-100] + b"\0" * 100)
        said = "has changed since the build (sha256 differs)"
    before = snapshot(work)
    refused = cli.run(*BUILD, cwd=work, timeout=TIMEOUT)
    one_error(refused, f"ccharmony build: error: ds: composite_images/{victim.name} {said}; run again with --rebuild "
                       "to rebuild the folder from its inputs")
    assert snapshot(work) == before
    repaired = cli.run(*BUILD, "--rebuild", cwd=work, timeout=TIMEOUT)
    assert repaired.returncode == 0, repaired.stderr.decode()
    assert tree(work / "ds") == original
    assert text_lines(cli.run(*BUILD, cwd=work, timeout=TIMEOUT).stdout)[0].startswith("ds is already built")


# --- concurrency, interruption, full disk --------------------------------------------------------

_SLOW_BUILD = (
    "import sys, time\n"
    "import ccharmony.dataset.builder as builder\n"
    "original = builder.make_composites\n"
    "def slow(task, pipeline):\n"
    "    time.sleep({delay})\n"
    "    return original(task, pipeline)\n"
    "builder.make_composites = slow\n"
    "from ccharmony.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _start(script: str, args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    """Start ``python -c script ARGS`` with its stderr in ``log`` (no pipe to fill, nothing left open)."""
    with open(log, "wb") as stderr:
        return subprocess.Popen([sys.executable, "-c", script, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                                stderr=stderr, stdin=subprocess.DEVNULL)


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen, log: Path, what: str,
              timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"the build ended before {what}: {log.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_second_build_of_the_same_folder_is_refused_at_once(scenes: Path, tmp_path: Path) -> None:
    """error-concurrent-build: two real processes; the second exits at once, the first ends as if alone."""
    work = tmp_path / "work"
    copy_scenes(scenes, work)
    log = tmp_path / "first.log"
    first = _start(_SLOW_BUILD.format(delay=0.3), BUILD, work, log)
    try:
        _wait_for(lambda: (work / "ds" / ".ccharmony-build" / "rows").is_dir(), first, log, "its first composites")
        started = time.perf_counter()
        second = subprocess.run([sys.executable, "-m", "ccharmony", *BUILD[:-3], "--seed", "2", "--no-progress"],
                                cwd=work, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        one_error(second, "ccharmony build: error: ds: another ccharmony build holds this folder "
                          "(lock .ccharmony-build.lock); wait for it to finish, or use another --out")
        assert seconds < 60  # the interpreter's start-up; no waiting for the first build
        assert first.wait(timeout=TIMEOUT) == 0, log.read_text()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # The folder is the first build's, whole: not a mix of two seeds.
    reference = reference_build(work / "s", tmp_path / "reference")
    assert tree(work / "ds") == tree(reference)
    assert json.loads((work / "ds" / "build.json").read_text())["seed"] == 1
    assert not (work / "ds" / ".ccharmony-build.lock").exists()


@pytest.mark.slow
def test_out_inside_raw_dir_interrupted_then_resumed(cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    """handled-out-inside-raw-dir, handled-sigint-resume, handled-fewer-composites-than-asked.

    ``--out raw/ds`` (relative, inside ``--raw-dir``) with K = 10 on 5 images: Ctrl-C after a few
    composites, one written composite deleted, then the same command again. The output folder
    is never taken for photos, the build resumes and repairs the missing composite, ends
    byte-identical to an uninterrupted build elsewhere, and every foreground's shortfall (4 of
    10: only 4 other images) is said, recorded in build.json and in the card.
    """
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    reference = reference_build(s, tmp_path / "reference", k=10)  # first: s/raw holds no dataset yet
    args = ["build", "--raw-dir", "s/raw", "--annotations", "s/annotations", "--out", "s/raw/ds", "--k", "10",
            "--seed", "1", "--no-progress"]
    log = tmp_path / "interrupted.log"
    process = _start(_SLOW_BUILD.format(delay=0.5), args, work, log)
    composites = s / "raw" / "ds" / "composite_images"
    try:
        _wait_for(lambda: composites.is_dir() and len(list(composites.glob("*.jpg"))) >= 4, process, log,
                  "4 composites")
        process.send_signal(signal.SIGINT)
        status = process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = log.read_text()
    assert status == 130 and err.splitlines()[-1] == "ccharmony build: interrupted" and "Traceback" not in err
    assert (s / "raw" / "ds" / ".ccharmony-build").is_dir() and not (s / "raw" / "ds" / "build.json").exists()
    sorted(composites.glob("*.jpg"))[0].unlink()  # damage the unfinished build too
    resumed = cli.run(*args, cwd=work, timeout=TIMEOUT)
    err_lines = text_lines(resumed.stderr)
    assert resumed.returncode == 0, err_lines
    assert text_lines(resumed.stdout)[0].endswith("(resumed)")
    assert tree(s / "raw" / "ds") == tree(reference)
    assert build_json(s / "raw" / "ds") == build_json(reference)
    # Fewer composites than asked: said, recorded, and in the card.
    build = json.loads((reference / "build.json").read_text())
    foregrounds = sorted(f"{name.replace('_', '-')}_{letter}" for name, letters in images_of(s).items()
                         for letter in letters)
    assert [item["foreground"] for item in build["shortfalls"]] == foregrounds
    assert {(item["wanted"], item["got"]) for item in build["shortfalls"]} == {(10, 4)}
    assert err_lines[0] == (f"ccharmony build: warning: {len(foregrounds)} foreground(s) got fewer composites than "
                            f"asked ({6 * len(foregrounds)} composite(s) short; recorded in build.json and the card):")
    assert err_lines[1] == (f"ccharmony build: warning:   {foregrounds[0]}: 4 of 10 (only 4 eligible target image(s): "
                            "4 other usable image(s))")
    card = (reference / "DATASET_CARD.md").read_text()
    assert f"- Fewer than 10 composites for {len(foregrounds)} foreground(s), {6 * len(foregrounds)} composite(s) short" in card


def test_full_disk_names_the_file_then_resumes(cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    """error-disk-full (the path and "no space left on device"), then handled-resume (byte-identical)."""
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    script = (
        "import errno, os, sys\n"
        "real, budget = os.write, [400_000]\n"
        "def write(descriptor, data):\n"
        "    budget[0] -= len(data)\n"
        "    if budget[0] < 0:\n"
        "        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "    return real(descriptor, data)\n"
        "os.write = write\n"
        "from ccharmony.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    full = subprocess.run([sys.executable, "-c", script, *BUILD], cwd=work, capture_output=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    err = text_lines(full.stderr)
    assert full.returncode == 1 and len(err) == 1 and "Traceback" not in full.stderr.decode(), err
    prefix, _, rest = err[0].partition(": cannot write it: no space left on device (")
    assert prefix.startswith(f"ccharmony build: error: {work / 'ds'}/"), err  # the file, by its path in the folder
    assert rest.endswith(" MB free there); free some space and run the build again (it resumes where it stopped)")
    resumed = cli.run(*BUILD, cwd=work, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr.decode()
    reference = reference_build(s, tmp_path / "reference")
    assert tree(work / "ds") == tree(reference)
    assert build_json(work / "ds") == build_json(reference)


def test_readme_first_command_with_a_relative_out(cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    """handled-relative-out: ``--out ds`` from the working folder writes ./ds once (not ds/ds)."""
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    result = cli.run(*BUILD, cwd=work, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr.decode()
    assert sorted(p.name for p in work.iterdir()) == ["ds", "s"]
    assert not (work / "ds" / "ds").exists() and not (work / "ds" / ".ccharmony-build").exists()
    reference = reference_build(s, tmp_path / "reference")
    assert tree(work / "ds") == tree(reference)


def test_test_split_emptied_by_skipped_images(cli: ForkedCLI, scenes: Path, tmp_path: Path) -> None:
    """error-test-split-left-empty: every test image is unreadable; the build stops with the reason, not an empty split."""
    work = tmp_path / "work"
    s = copy_scenes(scenes, work)
    splits = split_of(s)
    tested = sorted(name for name, split in splits.items() if split == "test")
    for name in tested:
        (s / "raw" / f"{name}.dng").write_bytes(b"\xff\xd8\xff\xe0 a JPEG header in a .dng")
    result = cli.run(*BUILD, cwd=work, timeout=TIMEOUT)
    err = text_lines(result.stderr)
    assert result.returncode == 1 and len(err) == 1 and "Traceback" not in result.stderr.decode(), err
    kept = len(splits) - len(tested)
    head = (f"ccharmony build: error: ds: the test split would be empty: the annotation lists put all {kept} usable "
            f"image(s) in train ({len(tested)} other image(s) were left out, e.g. {tested[0]}: "
            f"{s / 'raw' / tested[0]}.dng: ")
    assert err[0].startswith(head), err
    assert err[0].endswith(f"); list at least one image's foregrounds in {s / 'annotations' / 'test_list.txt'}")
    # Nothing finished: an unfinished build (fixed photos are other inputs: `--rebuild` starts it again).
    assert (work / "ds" / ".ccharmony-build" / "state.json").is_file() and not (work / "ds" / "build.json").exists()
