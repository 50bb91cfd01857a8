"""
Command line
============

Parse arguments for the ``ccharmony`` command and call the library. Nothing
here computes anything: each ``_run_*`` function converts arguments into a
library call, and :func:`main` turns a :class:`~ccharmony.errors.CCHarmonyError`
into one stderr line and a non-zero exit status.

Each sub-command lives in a ``_add_<name>`` (parser) / ``_run_<name>`` (call)
pair so that the commands stay independent of one another.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ccharmony import __version__
from ccharmony.errors import CCHarmonyError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


_ADDERS: list = []


def _register(function):  # noqa: ANN001, ANN202
    """Add a ``_add_<command>(sub)`` function to the parser (in definition order)."""
    _ADDERS.append(function)
    return function


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the examples' line breaks and show defaults."""


def _subparser(sub: argparse._SubParsersAction, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_,
        description=f"{help_}\n\nexample:\n  {example}",
        formatter_class=_Formatter,
    )


# --- ingest flags, shared by every command that reads photos ----------------


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags that tell the ingester how to read a photo."""
    group = parser.add_argument_group("ingestion")
    group.add_argument("--cfa", choices=["RGGB", "BGGR", "GRBG", "GBRG"], default=None,
                       help="treat single-channel PNG/TIFF input as a Bayer mosaic with this pattern")
    group.add_argument("--black", type=float, default=None,
                       help="black level in digital numbers (overrides the camera table)")
    group.add_argument("--white", type=float, default=None,
                       help="white (saturation) level in digital numbers (overrides the camera table)")
    group.add_argument("--camera", default=None,
                       help="camera name for the linear PNG/TIFF level table (default: from the file name)")
    group.add_argument("--kind", choices=["auto", "camera-raw", "linear", "bayer", "rendered"], default="auto",
                       help="how to read the photos; auto decides from the file content")
    group.add_argument("--half-size", action="store_true",
                       help="2x2 binning instead of full-resolution demosaicing for RAW and Bayer input")


def ingest_options_from_args(args: argparse.Namespace):  # noqa: ANN201 - library type
    """Build :class:`ccharmony.io.IngestOptions` from parsed ingest flags."""
    from ccharmony.io import IngestOptions

    return IngestOptions(
        cfa=args.cfa, black_level=args.black, white_level=args.white,
        camera=args.camera, half_size=args.half_size, kind=args.kind,
    )


# --- sub-commands -----------------------------------------------------------
# One section per command: ``@_register def _add_<name>(sub)`` builds the parser
# and sets ``run=_run_<name>``; ``_run_<name>(args) -> int`` calls the library
# (imported inside the function so that ``--help`` stays fast).

# [section: synth]
def _parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``480x320``) into ``(width, height)``."""
    parts = text.lower().split("x")
    try:
        width, height = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (0, 0)
    except ValueError:
        width, height = 0, 0
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT such as 480x320, got {text!r}")
    return width, height


@_register
def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = _subparser(sub, "synth",
                   "write physically based synthetic captures (DNG + ground truth + annotations)",
                   "ccharmony synth --out synthetic --count 20 --seed 1 --size 480x320")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--count", type=int, default=10, help="number of captures")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--size", type=_parse_size, default=(480, 320), metavar="WxH",
                   help="capture size in pixels, even numbers, at least 64x64")
    p.add_argument("--camera", action="append", default=None, metavar="NAME",
                   help="camera to draw from (repeatable): 'Nikon D5100', 'Sigma SD Merrill', "
                        "'Canon EOS 5D Mark II'; default all")
    p.add_argument("--no-relit", action="store_true",
                   help="do not write truth/<image>_relit.npz (render_relit regenerates it)")
    p.add_argument("--workers", type=int, default=1, help="processes to render with")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from ccharmony.synth import synthesize

    captures = synthesize(args.out, count=args.count, seed=args.seed, size=tuple(args.size),
                          relit=not args.no_relit, cameras=args.camera, workers=args.workers)
    for capture in captures:
        print(f"{capture.name}\t{capture.camera}\t{capture.dng_path}\t{capture.truth_path}")
    print(f"wrote {len(captures)} captures to {args.out}", file=sys.stderr)
    return EXIT_OK
# [end: synth]

# [section: detect]
@_register
def _add_detect(sub):  # noqa: ANN001, ANN202
    p = _subparser(sub, "detect", "find the ColorChecker, sample its patches, estimate the illuminant",
                   "ccharmony detect photo.dng --json detect.json --overlay overlays/")
    p.add_argument("files", nargs="+", metavar="FILE", help="photographs to read")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                   help="write the record(s) here (default: standard output)")
    p.add_argument("--overlay", default=None, metavar="DIR",
                   help="write <DIR>/<stem>.png showing the detection")
    p.add_argument("--gt", default=None, metavar="R,G,B",
                   help="ground-truth camera-RGB illuminant; adds illuminant_error_deg")
    p.add_argument("--annotation", default=None, metavar="PATH",
                   help="manual geometry (corners .json, <name>_macbeth.txt, <name>_mask.txt); one FILE only")
    p.add_argument("--methods", default=None, metavar="M1,M2",
                   help="detection backends in order (segmentation, mcc)")
    add_ingest_arguments(p)
    p.set_defaults(run=_run_detect)


def _run_detect(args) -> int:  # noqa: ANN001
    import json

    from ccharmony.checker import detect_record
    from ccharmony.errors import ConfigError

    ground_truth = None
    if args.gt is not None:
        try:
            ground_truth = [float(v) for v in args.gt.split(",")]
        except ValueError:
            ground_truth = []
        if len(ground_truth) != 3:
            raise ConfigError(f"--gt must be three comma-separated numbers R,G,B, got {args.gt!r}")
    if args.annotation is not None and len(args.files) != 1:
        raise ConfigError(f"--annotation applies to one FILE, got {len(args.files)} files")
    methods = args.methods.split(",") if args.methods else None
    options = ingest_options_from_args(args)
    records = [detect_record(path, options=options, ground_truth=ground_truth,
                             overlay_dir=args.overlay, annotation=args.annotation, methods=methods)
               for path in args.files]
    text = json.dumps(records[0] if len(records) == 1 else records, indent=1) + "\n"
    if args.json_out is None:
        sys.stdout.write(text)
    else:
        from ccharmony.io.atomic import atomic_write_text

        atomic_write_text(args.json_out, text)
    return EXIT_OK
# [end: detect]

# [section: build]
@_register
def _add_build(sub: argparse._SubParsersAction) -> None:
    p = _subparser(
        sub, "build",
        "build a harmonization dataset from photos with ColorCheckers and an annotation set",
        "ccharmony build --out dataset                      # the embedded default (synthetic scenes)\n"
        "  ccharmony build --raw-dir photos/ --annotations annotations/ccharmony "
        "--pipeline pipelines/ccharmony.yaml --out ccHarmony --workers 2",
    )
    p.add_argument("--raw-dir", type=Path, default=None,
                   help="folder of photos (camera RAW, linear PNG/TIFF, Bayer mosaics, sRGB JPEG); "
                        "omit to build the embedded default from synthetic captures")
    p.add_argument("--annotations", type=Path, default=None,
                   help="annotation set: masks/ (or foreground_masks/), optional patch_colors/, checkers/, "
                        "crops/, train_list.txt, test_list.txt (default: RAW_DIR/annotations)")
    p.add_argument("--pipeline", default="ccharmony",
                   help="pipeline YAML file, or a shipped one by name: ccharmony (paper-faithful), linear")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to write (resumed if interrupted)")
    p.add_argument("--workers", type=int, default=1, help="processes for the per-image stages")
    p.add_argument("--seed", type=int, default=0, help="seed of the target choice and of the split")
    p.add_argument("--k", type=int, default=None, help="override the pipeline's composites per foreground")
    p.add_argument("--method", default=None, help="override the pipeline's transfer method")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="run the per-image stages in a local process pool or as Ray tasks")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (with --executor ray)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_ingest_arguments(p)
    p.set_defaults(run=_run_build)


def _run_build(args: argparse.Namespace) -> int:
    if args.executor == "local":
        from ccharmony.dataset.executors import keep_freed_memory, start_pool_server

        if args.workers > 1:
            start_pool_server()  # its imports overlap this process's start-up
        else:
            keep_freed_memory()  # this process is the worker
    from ccharmony.dataset.builder import BuildOptions, build_dataset
    from ccharmony.dataset.config import builtin_pipeline

    pipeline = builtin_pipeline(args.pipeline).replace(k=args.k, method=args.method)
    options = BuildOptions(
        out=args.out, raw_dir=args.raw_dir, annotations=args.annotations, pipeline=pipeline,
        seed=args.seed, workers=args.workers, executor=args.executor, ray_address=args.ray_address,
        ingest=ingest_options_from_args(args), progress=not args.no_progress and sys.stderr.isatty(),
    )
    summary = build_dataset(options)
    for line in summary.lines():
        print(line)
    return EXIT_OK
# [end: build]

# [section: verify]
@_register
def _add_verify(sub):  # noqa: ANN001, ANN202
    p = _subparser(sub, "verify", "check that a dataset folder is intact, consistent and free of split leakage",
                   "ccharmony verify dataset --deep --json verify.json --workers 2")
    p.add_argument("dataset", metavar="DIR", help="dataset folder (ours, or any iHarmony4-layout folder)")
    p.add_argument("--deep", action="store_true",
                   help="also re-apply each recorded transfer and compare with the stored composite")
    p.add_argument("--json", metavar="REPORT", default=None, help="write the machine-readable report here")
    p.add_argument("--workers", metavar="N", type=int, default=1, help="processes for the per-image checks")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(run=_run_verify)


def _run_verify(args) -> int:  # noqa: ANN001
    from ccharmony.dataset.verify import format_report, verify_dataset

    report = verify_dataset(args.dataset, deep=args.deep, workers=args.workers, progress=not args.no_progress)
    if args.json:
        report.write_json(args.json)
    print(format_report(report))
    return EXIT_OK if report.ok else EXIT_PROBLEMS
# [end: verify]

# [section: benchmark, harmonize]
@_register
def _add_benchmark(sub):  # noqa: ANN001, ANN202
    p = _subparser(
        sub, "benchmark", "train and compare harmonization models (GiftNet re-implementation and baselines)",
        "ccharmony benchmark giftnet --data dataset --out runs --preset cpu-smoke --save-predictions",
    )
    p.epilog = (
        "GiftNet (Niu et al., ICCV 2023) is a re-implementation from the paper's\n"
        "description: the official code and weights are unreleased.\n"
        "The cpu-smoke preset trains at 96x96 (width 16, 10 epochs, teacher 3)\n"
        "and evaluates at 256x256."
    )
    p.add_argument("suite", choices=["giftnet"], help="what to benchmark")
    p.add_argument("--data", required=True, help="dataset folder in the iHarmony4 layout (train and test lists)")
    p.add_argument("--out", default="runs", help="folder of numbered run folders (NNN_benchmark)")
    p.add_argument("--models", default="composite,reinhard,unet,unet-gift,unet-rd,giftnet",
                   help="comma-separated registered models")
    p.add_argument("--preset", default="cpu-smoke", choices=["cpu-smoke", "paper"],
                   help="training settings: cpu-smoke (2 CPU cores, minutes) or paper (GPU)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    p.add_argument("--teacher-epochs", type=int, default=None, help="override the teacher's epochs")
    p.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: CUDA with mixed precision when present, else CPU")
    p.add_argument("--psnr-peak", default="255", choices=["255", "max-real"], help="PSNR peak convention")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, shuffling and augmentation")
    p.add_argument("--save-predictions", action="store_true", help="write every prediction as PNG at 256x256")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run folder")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(run=_run_benchmark)


def _run_benchmark(args) -> int:  # noqa: ANN001
    from ccharmony.harmonization.benchmark import BenchmarkOptions, run_benchmark

    options = BenchmarkOptions(
        models=tuple(name.strip() for name in args.models.split(",") if name.strip()),
        preset=args.preset, epochs=args.epochs, teacher_epochs=args.teacher_epochs,
        batch_size=args.batch_size, device=args.device, save_predictions=args.save_predictions,
        psnr_peak=args.psnr_peak, seed=args.seed, resume=args.resume,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    result = run_benchmark(args.data, out_dir=args.out, options=options)
    if int(os.environ.get("RANK", "0")) != 0:
        # Under torchrun only rank 0 reports (the process group is already torn down here).
        return EXIT_OK
    print(f"{'model':<10} {'MSE':>8} {'fMSE':>8} {'PSNR':>6} {'fPSNR':>6} {'SSIM':>6} {'fSSIM':>6}")
    for model, entry in result.summary.items():
        m = entry["metrics"]
        print(f"{model:<10} {m['MSE']:8.2f} {m['fMSE']:8.2f} {m['PSNR']:6.2f} {m['fPSNR']:6.2f} "
              f"{m['SSIM']:6.4f} {m['fSSIM']:6.4f}")
    print(f"report: {result.paths['markdown']} ({result.seconds:.0f} s)")
    return EXIT_OK


@_register
def _add_harmonize(sub):  # noqa: ANN001, ANN202
    p = _subparser(
        sub, "harmonize", "harmonize one composite with a trained model",
        "ccharmony harmonize --checkpoint runs/000_benchmark/giftnet/checkpoints/last.pt comp.jpg mask.png -o out.png",
    )
    p.add_argument("composite", help="composite image (JPEG/PNG, 8-bit sRGB)")
    p.add_argument("mask", help="foreground mask (values above 127 are foreground)")
    p.add_argument("--checkpoint", required=True, help="checkpoint of a trained model")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--size", type=int, default=None,
                   help="side the model runs at (None: the checkpoint's inference size)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"], help="device")
    p.set_defaults(run=_run_harmonize)


def _run_harmonize(args) -> int:  # noqa: ANN001
    from ccharmony.harmonization.data import read_mask, read_rgb
    from ccharmony.harmonization.predict import harmonize, load_model
    from ccharmony.harmonization.report import write_png
    from ccharmony.errors import AnnotationError

    model, meta = load_model(args.checkpoint, device=args.device)
    composite = read_rgb(args.composite)
    mask = read_mask(args.mask)
    if mask.shape != composite.shape[:2]:
        raise AnnotationError(
            f"{args.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but the composite is "
            f"{composite.shape[1]}x{composite.shape[0]}"
        )
    size = args.size or int(meta.get("inference_size") or 256)
    output = harmonize(composite, mask, model=model, inference_size=size, device=args.device)
    write_png(args.output, output)
    print(f"{args.output}: harmonized with {meta.get('model_name')} at {size}x{size}")
    return EXIT_OK
# [end: benchmark, harmonize]

# [section: report]
@_register
def _add_report(sub: argparse._SubParsersAction) -> None:
    p = _subparser(
        sub, "report",
        "write a self-contained static HTML report of a dataset (overview, plots, gallery, benchmark)",
        "ccharmony report dataset --out report --benchmark runs/000_giftnet --open",
    )
    p.add_argument("dataset", type=Path, metavar="DIR", help="dataset folder (ccharmony build output or iHarmony4)")
    p.add_argument("--out", type=Path, default=Path("report"),
                   help="report folder (new, empty, or a previous report whose thumbnails are reused)")
    p.add_argument("--benchmark", type=Path, default=None, metavar="RUN_DIR",
                   help="benchmark run folder (per_image.csv, report.json, predictions/) to add results")
    p.add_argument("--open", action="store_true", help="open the report in the default web browser")
    p.add_argument("--page-size", type=int, default=48, help="gallery cards per page")
    p.add_argument("--thumbnail-size", type=int, default=160, help="longest thumbnail side in pixels")
    p.add_argument("--workers", type=int, default=0, help="thumbnail workers (0 = automatic)")
    p.add_argument("--no-verify", action="store_true", help="skip the quick dataset verification")
    p.add_argument("--title", default=None, help="page title; none means '<dataset name> report'")
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from ccharmony.report import ReportOptions, write_report

    options = ReportOptions(page_size=args.page_size, thumbnail_size=args.thumbnail_size, workers=args.workers,
                            verify=not args.no_verify, title=args.title)
    result = write_report(args.dataset, args.out, benchmark=args.benchmark, options=options)
    print(f"wrote {result.index} ({result.cards} foregrounds, {result.composites} composites; thumbnails: "
          f"{result.thumbnails_made} made, {result.thumbnails_cached} cached; {result.seconds['total']:.2f} s)")
    for failure in result.failures[:10]:
        print(f"not shown: {failure}", file=sys.stderr)
    if len(result.failures) > 10:
        print(f"... and {len(result.failures) - 10} more files not shown (listed on the overview)", file=sys.stderr)
    if args.open:
        import webbrowser

        webbrowser.open(result.index.resolve().as_uri())
    return EXIT_OK
# [end: report]



def build_parser() -> argparse.ArgumentParser:
    """Return the ``ccharmony`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="ccharmony",
        description=(
            "Build colour-checker-based image-harmonization datasets from raw photographs "
            "(after ccHarmony, Niu et al. ICCV 2023) and benchmark harmonization models on them.\n\n"
            "example:\n  ccharmony build --out dataset    # the embedded default, a few minutes"
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"ccharmony {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _ADDERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ccharmony`` command and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.run(args) or EXIT_OK)
    except CCHarmonyError as error:
        print(f"ccharmony {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        # Disk full, permissions, a folder that vanished: the system's own words and the path.
        where = f"{error.filename}: " if getattr(error, "filename", None) else ""
        print(f"ccharmony {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ccharmony {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
