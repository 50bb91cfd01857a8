"""``ccharmony benchmark``: train and evaluate harmonization models, or score any method's outputs.

Two suites share the command: ``benchmark giftnet`` trains and evaluates
(:func:`ccharmony.harmonization.benchmark.run_benchmark`), ``benchmark
score`` scores a folder of predictions
(:func:`ccharmony.harmonization.scoring.score_predictions`).
"""

from __future__ import annotations

import argparse
import os

from ccharmony.cli._common import (
    EXIT_OK,
    add_max_pixels_argument,
    int_range,
    positive_int,
    printable,
    register,
    show_progress,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

PRESET_NAMES = ("cpu-smoke", "paper", "ccharmony-finetune")
"""``--preset`` choices (``ccharmony.harmonization.presets.PRESETS``; kept here so ``--help`` needs no torch)."""

PROTOCOL_NAMES = ("bcmi", "issam", "iih", "ours")
"""``--protocol`` choices (``ccharmony.harmonization.protocols.PROTOCOL_NAMES``), the first the default."""

DEFAULT_MODELS = "composite,reinhard-lab,reinhard-lalphabeta,issam,issam-gift,issam-rd,giftnet"
"""``--models`` default (``ccharmony.harmonization.models.DEFAULT_MODELS``)."""

MAX_SEED = 2**63 - 1
MAX_WORKERS = 256


def _seeds(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2``: distinct whole numbers from 0 to 2**63-1, comma-separated."""
    parse = int_range(0, MAX_SEED)
    parts = [part.strip() for part in text.split(",")]
    if not parts or any(not part for part in parts):
        raise argparse.ArgumentTypeError(f"must be comma-separated whole numbers such as 0,1,2, got {text!r}")
    try:
        seeds = tuple(parse(part) for part in parts)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"each seed {error}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"must not repeat a seed, got {text!r}")
    return seeds


@register
def _add_benchmark(sub):  # noqa: ANN001, ANN202
    p = subparser(
        sub, "benchmark",
        "train and compare harmonization models (GiftNet re-implementation and baselines), or score any "
        "method's predictions",
        "ccharmony benchmark giftnet --data dataset --out runs --preset cpu-smoke --save-predictions",
    )
    p.epilog = (
        "suites:\n"
        "  giftnet  train and evaluate GiftNet, its ablations and the baselines\n"
        "  score    score a folder of any method's predictions (named by composite, any size, JPEG or PNG)\n"
        "Run 'ccharmony benchmark SUITE --help' for each suite's flags."
    )
    suites = p.add_subparsers(dest="suite", metavar="SUITE", required=True)
    _add_giftnet(suites)
    _add_score(suites)


def _add_giftnet(suites) -> None:  # noqa: ANN001
    g = subparser(
        suites, "giftnet", "train and evaluate GiftNet, its ablations and the baselines",
        "ccharmony benchmark giftnet --data dataset --out runs --preset cpu-smoke --save-predictions",
    )
    g.epilog = (
        "GiftNet (Niu et al., ICCV 2023) is a re-implementation from the paper's\n"
        "description: the official code and weights are unreleased.\n"
        "The cpu-smoke preset trains at 96x96 (width 16, 10 epochs, teacher 3)\n"
        "and evaluates at 256x256.\n"
        "The ccHarmony protocol: pre-train with --preset paper on iHarmony4, then\n"
        "  ccharmony benchmark giftnet --data ccHarmony --preset ccharmony-finetune --init-from RUN_DIR"
    )
    data = g.add_argument_group("data")
    data.add_argument("--data", default=None, metavar="DIR",
                      help="dataset folder for both splits (iHarmony4 layout; an iHarmony4 root with "
                           "IHD_train.txt or its four subset folders works too; a store URL such as "
                           "s3://bucket/ds of a ccharmony build is mirrored and checked first)")
    data.add_argument("--train-data", default=None, metavar="DIR", help="train on this folder's train split")
    data.add_argument("--test-data", default=None, metavar="DIR", help="evaluate on this folder's test split")
    g.add_argument("--out", default="runs", help="folder of numbered run folders (NNN_benchmark) and the "
                                                 "training cache (.cache)")
    g.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated registered models")
    g.add_argument("--preset", default="cpu-smoke", choices=PRESET_NAMES,
                   help="training settings: cpu-smoke (2 CPU cores, minutes), paper (GPU), ccharmony-finetune "
                        "(fine-tune weights from --init-from)")
    g.add_argument("--epochs", type=int_range(0, 100_000), default=None, help="override the preset's epochs")
    g.add_argument("--teacher-epochs", type=int_range(0, 100_000), default=None,
                   help="override the teacher's epochs")
    g.add_argument("--batch-size", type=positive_int, default=None, help="override the preset's batch size")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: CUDA with mixed precision when present, else CPU")
    g.add_argument("--protocol", default=PROTOCOL_NAMES[0], choices=PROTOCOL_NAMES,
                   help="evaluation protocol: bcmi (the ccHarmony table's), issam, iih or ours")
    g.add_argument("--psnr-peak", default=None, choices=["255", "max-real"],
                   help="PSNR peak of the ours protocol (the other protocols fix theirs)")
    seeds = g.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int_range(0, MAX_SEED), default=0,
                       help="seed of initialisation, shuffling and augmentation, 0 to 2**63-1")
    seeds.add_argument("--seeds", type=_seeds, default=None, metavar="S,S,...",
                       help="train each learned model once per seed (e.g. 0,1,2); the report gives mean ± std "
                            "over seeds")
    g.add_argument("--init-from", default=None, metavar="CHECKPOINT|RUN_DIR",
                   help="start from these weights (loaded by parameter name, weights only): a checkpoint file "
                        "(ccharmony's or a plain state dict) or a benchmark run folder")
    g.add_argument("--save-predictions", action="store_true", help="write every prediction as PNG at 256x256")
    g.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue an interrupted run folder of this tool (same data and settings only)")
    g.add_argument("--workers", type=int_range(0, MAX_WORKERS), default=None,
                   help="loader worker processes (default: the preset's; 0 loads in the training process)")
    g.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="folder of the on-disk training cache (default: OUT/.cache)")
    g.add_argument("--bootstrap", type=int_range(100, 1_000_000), default=2000, metavar="N",
                   help="bootstrap resamples of the 95 %% intervals (source photos resampled)")
    add_max_pixels_argument(g)
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.set_defaults(run=_run_giftnet)


def _add_score(suites) -> None:  # noqa: ANN001
    s = subparser(
        suites, "score", "score a folder of any method's predictions against a dataset's test split",
        "ccharmony benchmark score --data dataset --predictions runs/000_benchmark/predictions/giftnet "
        "--name giftnet-saved --protocol ours",
    )
    s.epilog = (
        "Predictions are named by composite (<stem>.jpg or .png, as iSSAM's predict_for_dir writes them),\n"
        "at any resolution; each is resized as the protocol says. Missing and extra files are listed.\n"
        "With --run the row is added to an existing run folder (same protocol and test set)."
    )
    s.add_argument("--data", required=True, metavar="DIR", help="dataset folder with a test split")
    s.add_argument("--predictions", required=True, metavar="DIR", help="folder of predictions named by composite")
    s.add_argument("--name", required=True, help="the row's name in the table")
    s.add_argument("--protocol", default=PROTOCOL_NAMES[0], choices=PROTOCOL_NAMES,
                   help="evaluation protocol: bcmi (the ccHarmony table's), issam, iih or ours")
    s.add_argument("--run", dest="run_dir", default=None, metavar="RUN_DIR",
                   help="add the row to this run folder (default: a new OUT/NNN_score)")
    s.add_argument("--out", default="runs", help="folder of numbered run folders, without --run")
    s.add_argument("--allow-missing", action="store_true",
                   help="score the composites that have a prediction when some have none (listed in the report)")
    s.add_argument("--replace", action="store_true", help="replace a row of the same name in --run")
    s.add_argument("--bootstrap", type=int_range(100, 1_000_000), default=None, metavar="N",
                   help="bootstrap resamples of the 95 %% intervals (default: those of --run, else 2000)")
    s.add_argument("--no-progress", action="store_true", help="hide progress bars")
    s.set_defaults(run=_run_score)


def _table(summary: dict) -> list[str]:
    lines = [f"{'model':<20} {'MSE':>8} {'fMSE':>8} {'fMSE 95% CI':>19} {'PSNR':>6} {'fPSNR':>6} {'SSIM':>6} "
             f"{'fSSIM':>6}"]
    for model, entry in summary.items():
        m = entry["metrics"]
        low, high = entry.get("interval", {}).get("fMSE", [float("nan"), float("nan")])
        lines.append(f"{printable(model):<20} {m['MSE']:8.2f} {m['fMSE']:8.2f} {f'[{low:.1f}, {high:.1f}]':>19} "
                     f"{m['PSNR']:6.2f} {m['fPSNR']:6.2f} {m['SSIM']:6.4f} {m['fSSIM']:6.4f}")
    return lines


def _run_on_local_folders(args, options):  # noqa: ANN001, ANN202
    """Run the benchmark with each data folder opened as a local folder (a store URL is mirrored)."""
    import contextlib

    from ccharmony.dataset.store import is_url, open_dataset_location
    from ccharmony.harmonization.benchmark import run_benchmark

    with contextlib.ExitStack() as stack:
        opened: dict[str, object] = {}

        def local(location: str | None):  # noqa: ANN202
            if location is None:
                return None
            if location not in opened:  # --data and --train-data may name one store dataset: mirror it once
                opened[location] = stack.enter_context(open_dataset_location(location))
            return opened[location]

        train = args.train_data if args.train_data is not None else args.data
        test = args.test_data if args.test_data is not None else args.data
        return run_benchmark(
            local(args.data), train_dir=local(args.train_data), test_dir=local(args.test_data), out_dir=args.out,
            options=options, train_location=train if train is not None and is_url(train) else None,
            test_location=test if test is not None and is_url(test) else None,
        )


def _run_giftnet(args) -> int:  # noqa: ANN001
    from ccharmony.errors import ConfigError, UsageError
    from ccharmony.harmonization.benchmark import BenchmarkOptions
    from ccharmony.harmonization.presets import get_preset

    if args.data is None and args.test_data is None:
        raise UsageError("give --data DIR (train and test), or --test-data DIR (and --train-data DIR)")
    pretrained_with = get_preset(args.preset).pretrained_with
    if pretrained_with and args.init_from is None:
        raise UsageError(f"--preset {args.preset} fine-tunes a model pre-trained with --preset {pretrained_with}: "
                         "give --init-from RUN_DIR (or a checkpoint) of that pre-training")
    try:
        options = BenchmarkOptions(
            models=tuple(name.strip() for name in args.models.split(",") if name.strip()),
            preset=args.preset, epochs=args.epochs, teacher_epochs=args.teacher_epochs,
            batch_size=args.batch_size, device=args.device, save_predictions=args.save_predictions,
            protocol=args.protocol, psnr_peak=args.psnr_peak, seed=args.seed, seeds=args.seeds,
            resume=args.resume, init_from=args.init_from, num_workers=args.workers, cache_dir=args.cache_dir,
            max_pixels=args.max_pixels, bootstrap=args.bootstrap, progress=show_progress(args),
        )
    except ConfigError as error:
        raise UsageError(str(error)) from None
    result = _run_on_local_folders(args, options)
    if int(os.environ.get("RANK", "0")) != 0:
        # Under torchrun only rank 0 reports (the process group is already torn down here).
        return EXIT_OK
    for name, report in result.init_reports.items():
        print(f"{printable(name)}: initialised from {printable(report.source)}: {report.summary()} "
              f"(report: {printable(result.run_dir / name / 'init.json')})")
    for line in _table(result.summary):
        print(line)
    for subset, paths in result.subsets.items():
        print(f"subset {printable(subset)}: {printable(paths['markdown'])}")
    print(f"report: {printable(result.paths['markdown'])} ({result.seconds:.0f} s)")
    return EXIT_OK


def _run_score(args) -> int:  # noqa: ANN001
    from ccharmony.harmonization.scoring import score_predictions
    from ccharmony.harmonization.statistics import BootstrapOptions

    from ccharmony.dataset.store import open_dataset_location

    with open_dataset_location(args.data) as data:
        result = score_predictions(
            data, args.predictions, name=args.name, protocol=args.protocol, run_dir=args.run_dir,
            out_dir=args.out, allow_missing=args.allow_missing, replace=args.replace,
            statistics=BootstrapOptions(resamples=args.bootstrap) if args.bootstrap else None,
            progress=show_progress(args), data_location=str(args.data),
        )
    if result.missing:
        print(f"{len(result.missing)} test composite(s) without a prediction (see report.json)")
    if result.extra:
        print(f"{len(result.extra)} prediction file(s) name no test composite, not scored (see report.json)")
    for line in _table(result.summary):
        print(line)
    print(f"report: {printable(result.paths['markdown'])} (protocol {result.protocol})")
    return EXIT_OK
