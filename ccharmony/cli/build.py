"""``ccharmony build``: photos + annotations -> dataset folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ccharmony.cli._common import (
    EXIT_OK,
    add_ingest_arguments,
    ingest_options_from_args,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_build(sub: argparse._SubParsersAction) -> None:
    p = subparser(
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
