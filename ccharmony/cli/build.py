"""``ccharmony build``: photos + annotations -> dataset folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ccharmony.cli._common import (
    EXIT_OK,
    add_ingest_arguments,
    ingest_options_from_args,
    int_range,
    positive_int,
    printable,
    register,
    show_progress,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

_K_MAX = 1000  # ccharmony.dataset.config.K_MAX (not imported: --help stays fast)


def _location(value: str) -> Path | str:
    """A folder, or an object-store URL (``s3://bucket/prefix``) kept as text (fsspec reads it later)."""
    from ccharmony.dataset.store import is_url

    return value.rstrip("/") if is_url(value) else Path(value)


@register
def _add_build(sub: argparse._SubParsersAction) -> None:
    p = subparser(
        sub, "build",
        "build a harmonization dataset from photos with ColorCheckers and an annotation set",
        "ccharmony build --out dataset                      # the embedded default (synthetic scenes)\n"
        "  ccharmony build --raw-dir photos/ --annotations annotations/ccharmony "
        "--pipeline pipelines/ccharmony.yaml --out ccHarmony --workers 2",
    )
    p.add_argument("--raw-dir", type=_location, default=None,
                   help="folder of photos (camera RAW, linear PNG/TIFF, Bayer mosaics, sRGB JPEG), or an "
                        "object-store URL (s3://bucket/photos, gs://...); omit to build the embedded default "
                        "from synthetic captures")
    p.add_argument("--annotations", type=_location, default=None,
                   help="annotation set (folder or store URL): masks/ (or foreground_masks/), optional "
                        "patch_colors/, checkers/, crops/, polynomial_matching_coefficients/, train_list.txt, "
                        "test_list.txt (default: RAW_DIR/annotations)")
    p.add_argument("--pipeline", default="ccharmony",
                   help="pipeline YAML file, or a shipped one by name: ccharmony (paper-faithful), linear")
    p.add_argument("--out", type=_location, required=True,
                   help="dataset folder to write, or an object-store URL (s3://bucket/ds: written there directly, "
                        "MANIFEST.json last); resumed if interrupted; one build at a time holds it")
    p.add_argument("--rebuild", action="store_true",
                   help="rebuild a folder this tool built from other inputs or settings, or whose files were "
                        "deleted or changed since (refused without this flag)")
    p.add_argument("--workers", type=positive_int, default=1, help="processes for the per-image stages")
    p.add_argument("--seed", type=int, default=0, help="seed of the target choice and of the split")
    p.add_argument("--k", type=int_range(1, _K_MAX), default=None,
                   help="override the pipeline's composites per foreground")
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
    from ccharmony.errors import ConfigError, UsageError

    pipeline = builtin_pipeline(args.pipeline)
    # The published maps are poly11 maps: another --method fits every map.
    maps = "refit" if args.method not in (None, "poly11") else None
    try:
        pipeline = pipeline.replace(k=args.k, method=args.method, maps=maps)
    except ConfigError as error:  # a flag's value: a usage error
        flag = "--method" if args.method is not None and str(error).startswith("method") else "--k"
        raise UsageError(f"{flag}: {error}") from None
    options = BuildOptions(
        out=args.out, raw_dir=args.raw_dir, annotations=args.annotations, pipeline=pipeline,
        seed=args.seed, workers=args.workers, executor=args.executor, ray_address=args.ray_address,
        ingest=ingest_options_from_args(args), progress=show_progress(args), rebuild=args.rebuild,
    )
    summary = build_dataset(options)
    print(summary.headline())
    if not getattr(args, "quiet", False):
        # Skipped images and target shortfalls are diagnostics: stderr, one line each.
        for line in summary.warnings():
            print(f"ccharmony build: warning: {printable(line)}", file=sys.stderr)
    return EXIT_OK
