"""GiftNet ablation: composite, Reinhard (CIELAB and l-alpha-beta), backbone, +GIFT, +RD, GiftNet, over seeds.

Every row is a registered model definition (:data:`ccharmony.harmonization.models.ABLATION_MODELS`):
``issam`` (the backbone), ``issam-gift`` (+ GIFT on the skip features), ``issam-rd`` (+ relation
distillation of the skip features), ``giftnet`` (both: distillation of the GIFT-transformed skips);
their definitions are printed with the table. Each seed trains every learned row (and one teacher
shared by the two distilled rows) through :func:`ccharmony.harmonization.benchmark.run_benchmark`
(``seeds=`` when the benchmark has it, one call per seed otherwise).

Datasets (built here with the CLI, as a user would, under ``--work``):

-   ``embedded``: ``ccharmony build --out <work>/embedded`` (16 photos, 27 foregrounds, 190 train /
    80 test composites; 8 test foregrounds);
-   ``large``: ``ccharmony synth --out <work>/synth48 --count 48 --seed 7`` then ``ccharmony build
    --raw-dir <work>/synth48/raw --annotations <work>/synth48/annotations --k 5 --out
    <work>/large48-k5`` (48 photos, 79 foregrounds, 290 train / 105 test composites: 21 test
    foregrounds against the embedded default's 8; 5 composites per foreground instead of 10 halve
    the training samples);
-   or any dataset folder.

The table gives, per row, fMSE as the mean over seeds of the per-seed means, its standard deviation
over seeds and the per-seed values, a 95 % bootstrap interval over source photos of the
seed-averaged per-composite values, and a paired bootstrap test against the backbone row (difference
row - backbone, interval, p-value; :mod:`ccharmony.harmonization.statistics`). MSE and PSNR are means.

    python benchmarks/ablation.py --dataset embedded --seeds 0,1,2
    python benchmarks/ablation.py --dataset large --seeds 0,1,2 --json ablation-large.json
    python benchmarks/ablation.py --dataset embedded --seeds 0 --epochs 2 --teacher-epochs 1   # smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ccharmony.harmonization.benchmark import BenchmarkOptions, run_benchmark
from ccharmony.harmonization.models import ABLATION_MODELS, model_config
from ccharmony.harmonization.presets import get_preset
from ccharmony.harmonization.statistics import BootstrapOptions, bootstrap_interval, paired_bootstrap_test

LARGE_CAPTURES = 48
LARGE_SEED = 7
LARGE_K = 5


def _cli(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "ccharmony", *arguments], check=True)


def prepare(dataset: str, work: Path) -> Path:
    """Return the dataset folder, building ``embedded`` or ``large`` with the CLI when absent."""
    if dataset == "embedded":
        folder = work / "embedded"
        if not (folder / "build.json").exists():
            _cli("build", "--out", str(folder), "--no-progress")
        return folder
    if dataset == "large":
        synth, folder = work / f"synth{LARGE_CAPTURES}", work / f"large{LARGE_CAPTURES}-k{LARGE_K}"
        if not (folder / "build.json").exists():
            _cli("synth", "--out", str(synth), "--count", str(LARGE_CAPTURES), "--seed", str(LARGE_SEED), "-q")
            _cli("build", "--raw-dir", str(synth / "raw"), "--annotations", str(synth / "annotations"),
                 "--out", str(folder), "--k", str(LARGE_K), "--no-progress")
        return folder
    folder = Path(dataset)
    if not folder.is_dir():
        raise SystemExit(f"ablation: --dataset {dataset!r}: not embedded, large or a folder")
    return folder


def run(data: Path, *, rows: tuple[str, ...], seeds: tuple[int, ...], out: Path, preset: str,
        epochs: int | None, teacher_epochs: int | None, device: str) -> tuple[dict[str, list[dict]], list[str]]:
    """Train and evaluate every row for every seed; return the per-image rows and the run folders."""
    common = dict(models=rows, preset=preset, epochs=epochs, teacher_epochs=teacher_epochs, device=device,
                  progress=False)
    if "seeds" in {item.name for item in dataclasses.fields(BenchmarkOptions)}:
        result = run_benchmark(data, out_dir=out, options=BenchmarkOptions(**common, seeds=seeds))
        return result.per_image, [str(result.run_dir)]
    per_image: dict[str, list[dict]] = {}
    folders = []
    for seed in seeds:
        result = run_benchmark(data, out_dir=out, options=BenchmarkOptions(**common, seed=seed))
        folders.append(str(result.run_dir))
        for name, entries in result.per_image.items():
            trained = model_config(name).trainable
            if trained or seed == seeds[0]:
                per_image.setdefault(name, []).extend({**row, "seed": seed} if trained else row for row in entries)
    return per_image, folders


def _photo(row: dict) -> str:
    return str(row.get("photo") or str(row["name"]).split("_")[0])


def _seed_averaged(rows: list[dict], metric: str) -> dict[str, float]:
    values: dict[str, list[float]] = {}
    for row in rows:
        values.setdefault(str(row["name"]), []).append(float(row[metric]))
    return {name: float(np.mean(v)) for name, v in values.items()}


def tabulate(per_image: dict[str, list[dict]], *, backbone: str = "issam") -> list[dict]:
    """Summarise each row: fMSE over seeds, interval over photos, paired test against the backbone."""
    options = BootstrapOptions()
    table = []
    base = _seed_averaged(per_image[backbone], "fMSE") if backbone in per_image else None
    for name, rows in per_image.items():
        seeds = sorted({int(row["seed"]) for row in rows if row.get("seed") is not None})
        per_seed = {seed: float(np.mean([float(r["fMSE"]) for r in rows if r.get("seed") == seed]))
                    for seed in seeds}
        averaged = _seed_averaged(rows, "fMSE")
        photos = {str(row["name"]): _photo(row) for row in rows}
        interval = bootstrap_interval(list(averaged.values()), [photos[n] for n in averaged], options=options)
        entry = {
            "model": name,
            "fMSE": float(np.mean(list(per_seed.values()))) if per_seed else float(np.mean(list(averaged.values()))),
            "fMSE_std_over_seeds": float(np.std(list(per_seed.values()), ddof=1)) if len(per_seed) > 1 else None,
            "fMSE_per_seed": per_seed,
            "fMSE_interval": [interval.low, interval.high],
            "MSE": float(np.mean([float(r["MSE"]) for r in rows])),
            "PSNR": float(np.mean([float(r["PSNR"]) for r in rows])),
            "composites": len(averaged),
        }
        if base is not None and name != backbone:
            test = paired_bootstrap_test(averaged, base, photos, options=options)
            if test is not None:
                entry["vs_backbone"] = {"difference": test.difference, "interval": [test.low, test.high],
                                        "p_value": test.p_value, "excludes_zero": test.excludes_zero}
        table.append(entry)
    return table


def markdown(table: list[dict], *, backbone: str = "issam") -> str:
    """Return the table as Markdown."""
    lines = [f"| model | fMSE (mean over seeds ± std) | per seed | 95 % interval (photos) | "
             f"fMSE - {backbone} [95 %], p | MSE | PSNR |",
             "|---|---|---|---|---|---|---|"]
    for entry in table:
        std = entry["fMSE_std_over_seeds"]
        seeds = ", ".join(f"{value:.1f}" for value in entry["fMSE_per_seed"].values()) or "-"
        low, high = entry["fMSE_interval"]
        test = entry.get("vs_backbone")
        versus = (f"{test['difference']:+.1f} [{test['interval'][0]:+.1f}, {test['interval'][1]:+.1f}], "
                  f"p {test['p_value']:.3f}" if test else "-")
        lines.append(f"| {entry['model']} | {entry['fMSE']:.1f}" + (f" ± {std:.1f}" if std is not None else "")
                     + f" | {seeds} | [{low:.1f}, {high:.1f}] | {versus} | {entry['MSE']:.2f} | {entry['PSNR']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="embedded", help="embedded, large, or a dataset folder")
    parser.add_argument("--work", default="ablation-data", help="where embedded/large are built")
    parser.add_argument("--out", default="runs/ablation", help="folder of the benchmark run folders")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated")
    parser.add_argument("--models", default=",".join(ABLATION_MODELS), help="rows, comma-separated")
    parser.add_argument("--preset", default="cpu-smoke")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--teacher-epochs", type=int, default=None)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", default=None, help="write the table and definitions to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = tuple(name.strip() for name in args.models.split(",") if name.strip())
    seeds = tuple(int(seed) for seed in args.seeds.split(","))
    started = time.perf_counter()
    data = prepare(args.dataset, Path(args.work))
    per_image, folders = run(data, rows=rows, seeds=seeds, out=Path(args.out), preset=args.preset,
                             epochs=args.epochs, teacher_epochs=args.teacher_epochs, device=args.device)
    seconds = time.perf_counter() - started
    table = tabulate(per_image)
    print(f"dataset {data}, preset {args.preset}"
          + (f" (epochs {args.epochs}, teacher {args.teacher_epochs})" if args.epochs or args.teacher_epochs else "")
          + f", seeds {list(seeds)}, {seconds:.0f} s, runs: {', '.join(folders)}")
    print(markdown(table))
    width = get_preset(args.preset).width
    configs = {name: model_config(name).with_backbone(width=width) for name in rows}
    print(f"definitions (backbone width {width} from the preset):")
    for name, config in configs.items():
        print(f"  {name}: {config.to_json()}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "dataset": str(data), "preset": args.preset, "epochs": args.epochs, "teacher_epochs": args.teacher_epochs,
            "seeds": list(seeds), "seconds": seconds, "runs": folders, "table": table,
            "model_configs": {name: config.to_dict() for name, config in configs.items()}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
