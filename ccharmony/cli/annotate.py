"""``ccharmony annotate``: the local web application that makes an annotation set."""

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
def _add_annotate(sub: argparse._SubParsersAction) -> None:
    p = subparser(
        sub, "annotate",
        "annotate your own checker photos in the browser: charts, foreground masks, splits",
        "ccharmony annotate --raw-dir photos/ --annotations ann/\n"
        "  ccharmony build --raw-dir photos/ --annotations ann/ --out dataset   # then build",
    )
    p.add_argument("--raw-dir", type=Path, required=True, help="folder of photos (searched recursively)")
    p.add_argument("--annotations", type=Path, required=True,
                   help="annotation set to write (created when missing; resumed when it exists)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    p.add_argument("--no-browser", action="store_true", help="print the URL only, do not open a browser")
    p.add_argument("--pipeline", default="ccharmony",
                   help="pipeline whose crop margin, detection size and test fraction the tool shows")
    p.add_argument("--seed", type=int, default=0, help="seed of the suggested train/test split")
    add_ingest_arguments(p)
    p.set_defaults(run=_run_annotate)


def _run_annotate(args: argparse.Namespace) -> int:
    from ccharmony.annotate import AnnotateOptions, Session
    from ccharmony.annotate.server import AnnotateServer
    from ccharmony.dataset.config import builtin_pipeline

    options = AnnotateOptions(
        raw_dir=args.raw_dir, annotations=args.annotations, pipeline=builtin_pipeline(args.pipeline),
        seed=args.seed, ingest=ingest_options_from_args(args),
    )
    session = Session(options)
    server = AnnotateServer(session, port=args.port)
    print(f"ccharmony annotate: {len(session.photos)} photos in {args.raw_dir}, writing {args.annotations}")
    print(f"ccharmony annotate: open {server.url}   (Ctrl-C to stop; every change is already saved)", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is stopped; everything is saved already
    finally:
        session.close()
    print("ccharmony annotate: stopped", file=sys.stderr)
    return EXIT_OK
