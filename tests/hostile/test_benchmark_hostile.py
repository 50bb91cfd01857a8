"""
Hostile input to ``ccharmony benchmark``: seeds, resuming, checkpoints, split lists, decompression bombs.

Every case runs the command in its own process (a child forked from one interpreter that has
imported ccharmony and torch, :mod:`forked_cli` with the benchmark preloaded, so that a case
takes a second rather than the 5-10 s of imports), with a timeout so that a hang fails, and
asserts the outcome: the exit status (0 ok, 1 the run failed, 2 usage), the one stderr line that
names the file or the argument (exactly), no traceback, and that the files it was given are
untouched. Case ids start with ``error-`` (one clear error line, non-zero exit) or ``handled-``
(a documented handling).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tree_snapshot import snapshot

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "io"))
sys.path.insert(0, str(TESTS / "harmonization"))
import forked_cli  # noqa: E402
from harmonization_toy import write_toy_dataset  # noqa: E402
from hostile_images import png_bomb  # noqa: E402

pytestmark = pytest.mark.slow  # about 30 benchmark commands, a few of which train a tiny model

TIMEOUT = 240
BOMB_LINE = ("image is 20000x20000 pixels (400.0 megapixels), above the limit of 200.0 megapixels; "
             "pass --max-pixels 400000000 to read it")
# A tiny run: the composite and one legacy U-Net, one epoch at cpu-smoke sizes.
TINY = ["--models", "composite,unet", "--epochs", "1", "--batch-size", "2", "--device", "cpu", "--protocol",
        "ours", "--no-progress"]
RESUME_TAIL = "resume with the run's own data and settings, or start a new run without --resume"


@pytest.fixture(scope="module")
def cli():  # noqa: ANN201
    """Commands forked from one interpreter that imported torch and the benchmark (:mod:`forked_cli`)."""
    runner = forked_cli.ForkedCLI(preload=("torch", "ccharmony.harmonization.benchmark"))
    yield runner
    runner.close()




@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("hostile-benchmark") / "ds", scenes=4, width=40, height=32,
                             test_scenes=1)


@pytest.fixture(scope="module")
def finished(template: Path, tmp_path_factory: pytest.TempPathFactory, cli: forked_cli.ForkedCLI) -> Path:
    """A completed tiny run of ``template`` (its run folder)."""
    runs = tmp_path_factory.mktemp("finished")
    done = cli.run("benchmark", "giftnet", "--data", str(template), "--out", str(runs), *TINY, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr.decode()
    return runs / "000_benchmark"


def _checkpoint(path: Path, change: Callable[[dict], None]) -> Path:
    import torch

    from ccharmony.harmonization.engine import CHECKPOINT_FORMAT
    from ccharmony.harmonization.models import ModelOptions, UNetOptions, build_model

    options = ModelOptions(unet=UNetOptions(width=16))
    torch.manual_seed(0)
    state = {"format": CHECKPOINT_FORMAT, "model_name": "unet", "model_options": options.to_dict(),
             "model": build_model("unet", options).state_dict(), "epoch": 1}
    change(state)
    torch.save(state, path)
    return path


@dataclass
class Case:
    """One hostile input: how to set it up (work folder, dataset copy, finished run) -> arguments; the outcome."""

    prepare: Callable[[Path, Path, Path], list[str]]
    status: int
    line: str | Callable[[Path, Path, Path], str] | None
    """The last stderr line ({work}, {ds}, {run} replaced), or None for a success."""
    untouched: tuple[str, ...] = ("ds",)
    """Folders that must be byte-identical afterwards: "ds" (the dataset copy), "run" (the finished run copy)."""


def _fresh(work: Path, ds: Path, run: Path) -> list[str]:
    return ["benchmark", "giftnet", "--data", str(ds), "--out", str(work / "runs"), *TINY]


def _resume(extra: list[str]) -> Callable[[Path, Path, Path], list[str]]:
    def prepare(work: Path, ds: Path, run: Path) -> list[str]:
        return [*_fresh(work, ds, run), "--resume", str(run), *extra]
    return prepare


def _foreign(work: Path, ds: Path, run: Path) -> list[str]:
    mine = work / "my-folder"
    mine.mkdir()
    (mine / "report.md").write_text("my notes, not a benchmark\n")
    return [*_fresh(work, ds, run), "--resume", str(mine)]


def _other_data(work: Path, ds: Path, run: Path) -> list[str]:
    other = write_toy_dataset(work / "other", scenes=4, width=40, height=32, test_scenes=1, seed=5)
    return ["benchmark", "giftnet", "--data", str(other), "--out", str(work / "runs"), *TINY, "--resume", str(run)]


def _init_from(change: Callable[[dict], None]) -> Callable[[Path, Path, Path], list[str]]:
    def prepare(work: Path, ds: Path, run: Path) -> list[str]:
        bad = _checkpoint(work / "bad.pt", change)
        return [*_fresh(work, ds, run), "--init-from", str(bad)]
    return prepare


def _damaged_run_checkpoint(work: Path, ds: Path, run: Path) -> list[str]:
    target = run / "unet" / "checkpoints" / "last.pt"
    import torch

    state = torch.load(target, weights_only=True)
    state["model"] = "weights"
    torch.save(state, target)
    return [*_fresh(work, ds, run), "--resume", str(run)]


def _drop_test_list(work: Path, ds: Path, run: Path) -> list[str]:
    (ds / "Toy_test.txt").unlink()
    return _fresh(work, ds, run)


def _conflicting_lists(work: Path, ds: Path, run: Path) -> list[str]:
    (ds / "Toytest.txt").write_text("scene003_1_1.jpg\n")
    return _fresh(work, ds, run)


def _identical_lists(work: Path, ds: Path, run: Path) -> list[str]:
    names = [line.split("/")[-1] for line in (ds / "Toy_test.txt").read_text().split()]
    (ds / "Toytest.txt").write_text("\n".join(reversed(names)) + "\n")
    return [*_fresh(work, ds, run)[:-len(TINY)], "--models", "composite", "--device", "cpu", "--protocol", "ours",
            "--no-progress"]


def _line_outside(work: Path, ds: Path, run: Path) -> list[str]:
    (work / "outside").mkdir()
    with open(ds / "Toy_test.txt", "a") as stream:
        stream.write("../../outside/x_1_1.jpg\n")
    return _fresh(work, ds, run)


def _symlink_out(work: Path, ds: Path, run: Path) -> list[str]:
    target = ds / "composite_images" / "scene003_1_1.jpg"
    shutil.copy(target, work / "elsewhere_1_1.jpg")
    target.unlink()
    os.symlink(work / "elsewhere_1_1.jpg", target)
    return _fresh(work, ds, run)


def _fifo_list(work: Path, ds: Path, run: Path) -> list[str]:
    (ds / "Toy_test.txt").unlink()
    os.mkfifo(ds / "Toy_test.txt")
    return _fresh(work, ds, run)


def _bomb(relative: str) -> Callable[[Path, Path, Path], list[str]]:
    def prepare(work: Path, ds: Path, run: Path) -> list[str]:
        (ds / relative).write_bytes(png_bomb())
        return _fresh(work, ds, run)
    return prepare


def _out_is_a_file(work: Path, ds: Path, run: Path) -> list[str]:
    (work / "runs").write_text("not a folder\n")
    return _fresh(work, ds, run)


CASES: dict[str, Case] = {
    "error-benchmark-seed-negative": Case(
        lambda w, d, r: [*_fresh(w, d, r), "--seed", "-1"], 2,
        "ccharmony benchmark giftnet: error: argument --seed: must be a whole number from 0 to "
        "9223372036854775807, got '-1'"),
    "error-benchmark-seed-not-a-number": Case(
        lambda w, d, r: [*_fresh(w, d, r), "--seed", "one"], 2,
        "ccharmony benchmark giftnet: error: argument --seed: must be a whole number from 0 to "
        "9223372036854775807, got 'one'"),
    "error-benchmark-seeds-repeated": Case(
        lambda w, d, r: [*_fresh(w, d, r), "--seeds", "0,1,0"], 2,
        "ccharmony benchmark giftnet: error: argument --seeds: must not repeat a seed, got '0,1,0'"),
    "error-benchmark-seeds-negative": Case(
        lambda w, d, r: [*_fresh(w, d, r), "--seeds", "0,-2"], 2,
        "ccharmony benchmark giftnet: error: argument --seeds: each seed must be a whole number from 0 to "
        "9223372036854775807, got '-2'"),
    "error-benchmark-workers-negative": Case(
        lambda w, d, r: [*_fresh(w, d, r), "--workers", "-1"], 2,
        "ccharmony benchmark giftnet: error: argument --workers: must be a whole number from 0 to 256, got '-1'"),
    "error-benchmark-finetune-without-init-from": Case(
        lambda w, d, r: ["benchmark", "giftnet", "--data", str(d), "--out", str(w / "runs"), "--preset",
                         "ccharmony-finetune", "--device", "cpu"], 2,
        "ccharmony benchmark: error: --preset ccharmony-finetune fine-tunes a model pre-trained with --preset "
        "paper: give --init-from RUN_DIR (or a checkpoint) of that pre-training"),
    "error-benchmark-no-data": Case(
        lambda w, d, r: ["benchmark", "giftnet", "--out", str(w / "runs")], 2,
        "ccharmony benchmark: error: give --data DIR (train and test), or --test-data DIR (and --train-data DIR)"),
    "error-benchmark-data-missing": Case(
        lambda w, d, r: ["benchmark", "giftnet", "--data", str(w / "nowhere"), "--out", str(w / "runs"), *TINY], 1,
        "ccharmony benchmark: error: {work}/nowhere: dataset folder not found"),
    "error-benchmark-out-is-a-file": Case(
        _out_is_a_file, 1,
        "ccharmony benchmark: error: {work}/runs: --out is a file, not a folder of run folders; give a folder"),
    "handled-benchmark-resume-same-settings": Case(_resume([]), 0, None, untouched=("ds",)),
    "error-benchmark-resume-other-seed": Case(
        _resume(["--seed", "1"]), 1,
        "ccharmony benchmark: error: {run}: cannot resume: seeds differs from the run's (run: [0]; now: [1]); "
        + RESUME_TAIL, untouched=("ds", "run")),
    "error-benchmark-resume-other-models": Case(
        _resume(["--models", "composite"]), 1,
        "ccharmony benchmark: error: {run}: cannot resume: models differs from the run's (run: [\"composite\", "
        "\"unet\"]; now: [\"composite\"]); " + RESUME_TAIL, untouched=("ds", "run")),
    "error-benchmark-resume-other-data": Case(
        _other_data, 1, lambda w, d, r: f"ccharmony benchmark: error: {r}: cannot resume: test_data differs from "
                                        "the run's (run: \"", untouched=("ds", "run")),
    "error-benchmark-resume-foreign-folder": Case(
        _foreign, 1,
        "ccharmony benchmark: error: {work}/my-folder: not a run folder of ccharmony benchmark (no .ccharmony-run "
        "marker); refusing to resume into it, nothing was changed"),
    "error-benchmark-resume-missing-folder": Case(
        lambda w, d, r: [*_fresh(w, d, r), "--resume", str(w / "gone")], 1,
        "ccharmony benchmark: error: {work}/gone: run folder to resume not found"),
    "error-benchmark-resume-damaged-checkpoint": Case(
        _damaged_run_checkpoint, 1,
        "ccharmony benchmark: error: {run}/unet/checkpoints/last.pt: checkpoint weights ('model') must be a "
        "mapping of tensors, got a string"),
    "error-benchmark-init-from-unknown-option-key": Case(
        _init_from(lambda s: s["model_options"]["unet"].update(colour=1)), 1,
        "ccharmony benchmark: error: {work}/bad.pt: unknown checkpoint option model_options.unet.colour; accepted: "
        "batchnorm_from, depth, fusion, max_channels, relation_stages, rgb_residual, width"),
    "error-benchmark-init-from-wrong-option-type": Case(
        _init_from(lambda s: s["model_options"]["unet"].update(width="16")), 1,
        "ccharmony benchmark: error: {work}/bad.pt: checkpoint option model_options.unet.width must be a whole "
        "number, got '16'"),
    "error-benchmark-init-from-options-as-a-string": Case(
        _init_from(lambda s: s.update(model_options="width=16")), 1,
        "ccharmony benchmark: error: {work}/bad.pt: checkpoint model_options must be a mapping, got a string"),
    "error-benchmark-init-from-no-model-key": Case(
        _init_from(lambda s: s.pop("model")), 1,
        "ccharmony benchmark: error: {work}/bad.pt: checkpoint has no 'model' entry (the weights); it cannot be used"),
    "error-benchmark-init-from-weights-as-a-string": Case(
        _init_from(lambda s: s.update(model="weights")), 1,
        "ccharmony benchmark: error: {work}/bad.pt: checkpoint weights ('model') must be a mapping of tensors, "
        "got a string"),
    "error-benchmark-init-from-not-a-checkpoint": Case(
        lambda w, d, r: [*_fresh(w, d, r), "--init-from", str(d / "masks" / "scene000_1.png")], 1,
        "ccharmony benchmark: error: {ds}/masks/scene000_1.png: not a readable checkpoint (UnpicklingError: "),
    "error-benchmark-no-test-list": Case(
        _drop_test_list, 1,
        "ccharmony benchmark: error: {ds}: no test split list: expected <Name>test.txt or <Name>_test.txt in the "
        "folder (or in each iHarmony4 subset folder)"),
    "error-benchmark-conflicting-lists": Case(
        _conflicting_lists, 1,
        "ccharmony benchmark: error: {ds}/Toytest.txt: this test list and Toy_test.txt name different composites "
        "(1 and 2 lines); keep exactly one test list in the folder"),
    "handled-benchmark-identical-lists-score-each-image-once": Case(_identical_lists, 0, None),
    "error-benchmark-list-line-outside": Case(
        _line_outside, 1,
        "ccharmony benchmark: error: {ds}/Toy_test.txt:3: '../../outside/x_1_1.jpg' leads outside the dataset "
        "folder; list paths must stay inside it"),
    "error-benchmark-symlinked-composite-outside": Case(
        _symlink_out, 1,
        "ccharmony benchmark: error: {ds}/Toy_test.txt:1: 'composite_images/scene003_1_1.jpg' leads outside the "
        "dataset folder; list paths must stay inside it"),
    "error-benchmark-fifo-test-list": Case(
        _fifo_list, 1,
        "ccharmony benchmark: error: {ds}/Toy_test.txt: cannot read the split list (is a FIFO (named pipe), not a "
        "split list; ccharmony reads only regular files)"),
    "error-benchmark-bomb-in-the-test-split": Case(
        _bomb("composite_images/scene003_1_2.jpg"), 1,
        "ccharmony benchmark: error: {ds}/composite_images/scene003_1_2.jpg: " + BOMB_LINE),
    "error-benchmark-bomb-in-the-train-split": Case(
        _bomb("masks/scene001_1.png"), 1, "ccharmony benchmark: error: {ds}/masks/scene001_1.png: " + BOMB_LINE),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_benchmark(name: str, template: Path, finished: Path, tmp_path: Path, cli: forked_cli.ForkedCLI) -> None:
    case = CASES[name]
    work = tmp_path / "work"
    work.mkdir()
    ds = Path(shutil.copytree(template, work / "ds", symlinks=True))
    run = Path(shutil.copytree(finished, work / "run"))
    args = case.prepare(work, ds, run)
    before = {"ds": snapshot(ds), "run": snapshot(run)}
    done = cli.run(*args, cwd=work, timeout=TIMEOUT)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert done.returncode == case.status, stderr
    done.stdout.decode("utf-8", errors="strict")
    if case.line is None:
        assert done.stdout.decode().splitlines()[-1].startswith("report: ")
    else:
        line = case.line(work, ds, run) if callable(case.line) else case.line.format(work=work, ds=ds, run=run)
        last = stderr.splitlines()[-1]
        if case.status == 1:
            assert len(stderr.splitlines()) == 1, stderr  # one line, nothing before it
        if line.endswith(": ") or line.endswith('"'):
            assert last.startswith(line), (last, line)
        else:
            assert last == line
        if name == "error-benchmark-resume-other-data":
            assert last.endswith(RESUME_TAIL)
    for key in case.untouched:
        assert snapshot({"ds": ds, "run": run}[key]) == before[key], key
    if name == "handled-benchmark-resume-same-settings":
        # Nothing retrained: the checkpoints are the run's own bytes.
        after = snapshot(run)
        assert after["unet/checkpoints/last.pt"] == before["run"]["unet/checkpoints/last.pt"]
    if name == "handled-benchmark-identical-lists-score-each-image-once":
        report = next((work / "runs").glob("*_benchmark")) / "per_image.csv"
        assert len(report.read_text().splitlines()) == 1 + 2  # header + the 2 test composites, once each
    if case.status and name.split("-benchmark-")[1].startswith(("seed", "seeds", "workers", "finetune", "no-data",
                                                                 "data-missing", "init-from", "no-test",
                                                                 "conflicting", "list-line", "symlinked", "fifo",
                                                                 "resume-foreign", "resume-missing", "resume-other")):
        runs = work / "runs"
        assert not runs.exists() or not any(runs.glob("*_benchmark")), "nothing written before the refusal"


def test_library_refuses_a_negative_seed() -> None:
    from ccharmony.errors import ConfigError
    from ccharmony.harmonization.benchmark import BenchmarkOptions
    from ccharmony.harmonization.engine import TrainOptions

    with pytest.raises(ConfigError, match="seed must be a whole number from 0 to 9223372036854775807, got -1"):
        BenchmarkOptions(seed=-1)
    with pytest.raises(ConfigError, match="seed must be a whole number >= 0, got -1"):
        TrainOptions(seed=-1)
    with pytest.raises(ConfigError, match="seeds: seed 3 is given twice"):
        BenchmarkOptions(seeds=(3, 3))
