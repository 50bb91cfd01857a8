"""
Measure a build from a bucket to a bucket against a local build of the same inputs; print a table.

Issue 15, part 3: ``--raw-dir``, ``--annotations`` and ``--out`` as ``s3://`` URLs, on a Ray
cluster whose nodes share no disk. Everything runs on this machine and on the loopback only:

- an S3-protocol server: moto's server mode on 127.0.0.1 (a random port);
- a Ray cluster of ``--nodes`` nodes (one CPU each) on 127.0.0.1 (``ray.cluster_utils.Cluster``);
- the inputs: ``ccharmony synth`` captures, kept locally and uploaded to ``s3://bench/in``.

Rows (each a fresh ``ccharmony build`` subprocess, as a user types it; wall time includes the
command's start-up, the imports and, for Ray, connecting to the running cluster):

- ``local``: local folders in and out, one worker;
- ``local, --workers N``: the same with a process pool of N (the shared-disk reference for N nodes);
- ``store, local executor``: bucket to bucket, the stages in the building process;
- ``store, ray N nodes``: bucket to bucket, the stages as Ray tasks on the cluster.

Each store row's dataset is compared with the local build's file by file (the card and
build.json name the inputs' locations, so those are compared with the locations swapped), so
the table also says the store build wrote the same bytes. The S3 server is in this process:
its request handling competes with the build for the same cores, so the store rows are an
upper bound of the cost of the store on a machine with real network storage.

Usage::

    python benchmarks/store_build.py                          # 8 captures 480x320, K = 10, 2 nodes
    python benchmarks/store_build.py --count 4 --size 240x160 --k 2   # a quick check
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ccharmony", "build", "--no-progress", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"build failed ({' '.join(args)}):\n{done.stderr}")
    return seconds


def _local_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _same(objects: dict[str, bytes], local: dict[str, bytes], swaps: list[tuple[str, str]]) -> bool:
    if sorted(objects) != sorted(local):
        return False
    for name, data in local.items():
        if name in ("build.json", "MANIFEST.json"):
            continue
        if name in ("DATASET_CARD.md", "README.md"):
            text = objects[name].decode()
            for url, path in swaps:
                text = text.replace(url, path)
            if text != data.decode():
                return False
        elif objects[name] != data:
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=8, help="synthetic captures")
    parser.add_argument("--size", default="480x320", help="WIDTHxHEIGHT of each capture")
    parser.add_argument("--k", type=int, default=10, help="composites per foreground")
    parser.add_argument("--nodes", type=int, default=2, help="Ray nodes (one CPU each)")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "OMP_NUM_THREADS": "1"}
    os.environ.update(env)
    import s3fs
    from ray.cluster_utils import Cluster

    fs = s3fs.S3FileSystem()
    fs.mkdir("bench")
    work = Path(tempfile.mkdtemp(prefix="ccharmony-store-bench-"))
    cluster = None
    try:
        width, height = (int(v) for v in args.size.split("x"))
        from ccharmony.synth import synthesize

        scenes = work / "scenes"
        synthesize(scenes, count=args.count, seed=3, size=(width, height), relit=False)
        fs.put(f"{scenes}/", "bench/in", recursive=True)
        node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 75 << 20}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        for _ in range(args.nodes - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        full = {**os.environ, **env}
        common = ["--k", str(args.k)]
        local_in = ["--raw-dir", str(scenes / "raw"), "--annotations", str(scenes / "annotations")]
        store_in = ["--raw-dir", "s3://bench/in/raw", "--annotations", "s3://bench/in/annotations"]
        swaps = [("s3://bench/in/raw", str(scenes / "raw")), ("s3://bench/in/annotations", str(scenes / "annotations"))]
        rows = []
        seconds = _run([*common, *local_in, "--out", str(work / "local")], full, work)
        reference = _local_files(work / "local")
        rows.append(("local, 1 worker", seconds, "-"))
        seconds = _run([*common, *local_in, "--workers", str(args.nodes), "--out", str(work / "pool")], full, work)
        rows.append((f"local, --workers {args.nodes}", seconds, "-"))
        for label, extra, prefix in (
            ("store, local executor", [], "bench/ds-local"),
            (f"store, ray {args.nodes} nodes", ["--executor", "ray", "--ray-address", cluster.address], "bench/ds-ray"),
        ):
            seconds = _run([*common, *store_in, *extra, "--out", f"s3://{prefix}"], full, work)
            fs.invalidate_cache()
            objects = {name[len(prefix) + 1:]: fs.cat_file(name) for name in fs.find(prefix)}
            rows.append((label, seconds, "yes" if _same(objects, reference, swaps) else "NO"))
        build = json.loads((work / "local" / "build.json").read_text())
        counts = build["counts"]
        size = sum(len(data) for data in reference.values())
        print(f"{args.count} captures {args.size}, K = {args.k}: {counts['images']} images, {counts['composites']} "
              f"composites, {len(reference)} files, {size / 1e6:.1f} MB; {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f}")
        print()
        print("| build | wall s | vs local | same bytes as local |")
        print("|---|---:|---:|---|")
        base = rows[0][1]
        for label, seconds, same in rows:
            print(f"| {label} | {seconds:.1f} | {seconds / base:.2f}x | {same} |")
    finally:
        if cluster is not None:
            cluster.shutdown()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
