"""
Builds on an object store with a cluster whose nodes share no disk (issue 15, part 3).

A real S3-protocol server (moto's server mode) runs on 127.0.0.1 in this process; a Ray cluster
of two nodes (one CPU each) runs on this machine, started after the server so that its workers
get the store's endpoint and test credentials from their environment, as a cloud node gets its
own. The builds run as a user types them (``ccharmony build ... --out s3://...``, in a child
process). Asserted: the dataset's bytes on the store equal a local build's on the same inputs
(the card and build.json name the inputs, so those two are compared with the input locations
swapped), the manifest is the last object and names every other file, no work folder or lock
is left, an interrupted build resumes to the same bytes, a second build of the same prefix is
refused while the lock lives, and ``verify`` and ``benchmark`` read the dataset straight from
the store (:func:`ccharmony.dataset.store.open_dataset_location`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

pytestmark = pytest.mark.slow

BUCKET = "cch"
K = 2
ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")


@pytest.fixture(scope="module")
def store() -> Iterator[dict[str, str]]:
    """An S3 server on 127.0.0.1 (random port) with one bucket; the environment that reaches it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_DEFAULT_REGION": "us-east-1",
           # Ray on one machine: every address on the loopback (Ray's own switch for one-machine
           # clusters), so no traffic leaves 127.0.0.1.
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir(BUCKET)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def _fs():  # noqa: ANN202
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.invalidate_cache()
    return fs


@pytest.fixture(scope="module")
def scenes(store: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small synthetic captures, locally and uploaded to s3://cch/in/."""
    from ccharmony.synth import synthesize

    root = tmp_path_factory.mktemp("scenes")
    synthesize(root, count=4, seed=3, size=(240, 160), relit=False)
    _fs().put(f"{root}/", f"{BUCKET}/in", recursive=True)
    return root


@pytest.fixture(scope="module")
def cluster(store: dict[str, str]) -> Iterator[str]:
    """Two Ray nodes of one CPU each on this machine; yields the head's address."""
    ray_cluster_utils = pytest.importorskip("ray.cluster_utils")
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 75 << 20}
    started = ray_cluster_utils.Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        started.add_node(**node)
        started.wait_for_nodes()
        yield started.address
    finally:
        started.shutdown()


def _build(args: list[str], env: dict[str, str], cwd: Path, *, timeout: float = 420) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccharmony", "build", "--k", str(K), "--no-progress", *args],
                          capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def local(scenes: Path, store: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same inputs built into a local folder."""
    work = tmp_path_factory.mktemp("local")
    done = _build(["--raw-dir", str(scenes / "raw"), "--annotations", str(scenes / "annotations"), "--out", "ds"],
                  store, work)
    assert done.returncode == 0, done.stderr
    return work / "ds"


def _objects(prefix: str) -> dict[str, bytes]:
    fs = _fs()
    return {name[len(prefix) + 1:]: fs.cat_file(name) for name in sorted(fs.find(prefix))}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _same_but_inputs(store_files: dict[str, bytes], local_files: dict[str, bytes], swaps: list[tuple[str, str]]) -> None:
    """Every file equal; the card, README and build.json equal once the input locations are swapped back."""
    assert sorted(store_files) == sorted(local_files)
    named = {"DATASET_CARD.md", "README.md", "build.json", "MANIFEST.json"}
    for name in sorted(set(local_files) - named):
        assert store_files[name] == local_files[name], name
    for name in ("DATASET_CARD.md", "README.md"):
        text = store_files[name].decode()
        for url, path in swaps:
            text = text.replace(url, path)
        assert text == local_files[name].decode(), name
    ours, theirs = json.loads(store_files["build.json"]), json.loads(local_files["build.json"])
    for record in (ours, theirs):
        record.pop("timings")
        record.pop("build_key")  # a hash of the inputs' locations (and of everything else compared here)
        record["files"].pop("DATASET_CARD.md")
        record["files"].pop("README.md")
        record.pop("content_sha256")
    assert ours.pop("inputs") == {"raw_dir": swaps[0][0], "annotations": swaps[1][0]}
    theirs.pop("inputs")
    assert ours == theirs
    manifest, expected = json.loads(store_files["MANIFEST.json"]), json.loads(local_files["MANIFEST.json"])
    for name in ("DATASET_CARD.md", "README.md"):
        manifest["files"].pop(name)
        expected["files"].pop(name)
    assert manifest == expected


def test_cluster_build_from_a_bucket_to_a_bucket(store: dict[str, str], scenes: Path, local: Path, cluster: str,
                                                 tmp_path: Path) -> None:
    from ccharmony.dataset.store import read_manifest

    url = f"s3://{BUCKET}/ds"
    done = _build(["--executor", "ray", "--ray-address", cluster, "--raw-dir", f"s3://{BUCKET}/in/raw",
                   "--annotations", f"s3://{BUCKET}/in/annotations", "--out", url], store, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"built {url}: 4 images, ")
    assert list(tmp_path.iterdir()) == []  # the driver wrote nothing on its own disk
    objects = _objects(f"{BUCKET}/ds")
    assert not [name for name in objects if name.startswith(".ccharmony-build")]
    _same_but_inputs(objects, _files(local), [(f"s3://{BUCKET}/in/raw", str(scenes / "raw")),
                                              (f"s3://{BUCKET}/in/annotations", str(scenes / "annotations"))])
    # The manifest names every other object, and was written last.
    manifest = read_manifest(objects["MANIFEST.json"], where="MANIFEST.json")
    assert sorted([*manifest.files, "build.json", "MANIFEST.json"]) == sorted(objects)
    fs = _fs()
    written = {name: fs.info(f"{BUCKET}/ds/{name}")["LastModified"] for name in objects}
    assert written["MANIFEST.json"] == max(written.values())
    # The same command again: nothing to do.
    again = _build(["--executor", "ray", "--ray-address", cluster, "--raw-dir", f"s3://{BUCKET}/in/raw",
                    "--annotations", f"s3://{BUCKET}/in/annotations", "--out", url], store, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{url} is already built from these inputs")


def test_verify_and_benchmark_read_the_dataset_from_the_store(store: dict[str, str], scenes: Path, local: Path,
                                                              tmp_path: Path) -> None:
    from ccharmony.dataset.store import open_dataset_location
    from ccharmony.dataset.verify import verify_dataset
    from ccharmony.harmonization.benchmark import BenchmarkOptions, run_benchmark
    from ccharmony.harmonization.presets import Preset

    url = f"s3://{BUCKET}/verify"
    done = _build(["--raw-dir", f"s3://{BUCKET}/in/raw", "--annotations", f"s3://{BUCKET}/in/annotations",
                   "--out", url], store, tmp_path)
    assert done.returncode == 0, done.stderr
    cache = tmp_path / "cache"
    # The command a user types, straight from the store (the CLI mirrors through the default cache).
    checked = subprocess.run([sys.executable, "-m", "ccharmony", "verify", url, "--no-progress"],
                             capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
                             env={**os.environ, **store, "CCHARMONY_CACHE_DIR": str(tmp_path / "cli-cache")})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[0] == f"dataset {url}"
    assert checked.stdout.rstrip().splitlines()[-1] == "sound: no problems found"
    with open_dataset_location(url, cache_dir=cache) as folder:
        assert _files(folder) == _objects(f"{BUCKET}/verify")
        report = verify_dataset(folder, progress=False)
        assert report.ok, [check for check in report.checks if check.status == "problem"]
        tiny = Preset(name="store-tiny", train_size=32, eval_size=64, width=4, epochs=1, teacher_epochs=1,
                      batch_size=4, min_area=4.0, num_threads=1, eval_batch_size=8, lr_milestones=(1.0,),
                      num_workers=0)
        result = run_benchmark(folder, out_dir=tmp_path / "runs", options=BenchmarkOptions(
            models=("composite",), preset=tiny, device="cpu", progress=False, grid_images=1, protocol="ours"))
        assert result.summary
    assert not folder.exists()  # the mirror is gone; the cache stays
    stored = sorted(p.name for p in (cache / "sha256").rglob("*") if p.is_file())
    assert len(stored) == len({json.dumps(v) for v in json.loads(_objects(f"{BUCKET}/verify")["MANIFEST.json"])
                                ["files"].values()})
    # A second reader downloads nothing: the cache is content-addressed.
    with open_dataset_location(url, cache_dir=cache) as folder:
        assert (folder / "MANIFEST.json").is_file()


def test_benchmark_commands_take_a_store_url(store: dict[str, str], local: Path, tmp_path: Path) -> None:
    """``benchmark giftnet`` and ``benchmark score`` as a user types them, with ``--data s3://...``.

    The reports name the URL (not the temporary mirror), and the composites of the local build of
    the same inputs, scored as predictions, reproduce the composite row exactly.
    """
    url = f"s3://{BUCKET}/verify"  # built by test_verify_and_benchmark_read_the_dataset_from_the_store
    if not _fs().exists(f"{BUCKET}/verify/MANIFEST.json"):
        pytest.skip("the store dataset of the previous test is absent")
    env = {**os.environ, **store, "CCHARMONY_CACHE_DIR": str(tmp_path / "cli-cache")}

    def cli(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ccharmony", *arguments], capture_output=True, text=True,
                              timeout=600, check=False, cwd=tmp_path, env=env)

    trained = cli("benchmark", "giftnet", "--data", url, "--models", "composite", "--protocol", "ours",
                  "--out", "runs", "--no-progress", "--bootstrap", "100")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    document = json.loads((tmp_path / "runs" / "000_benchmark" / "report.json").read_text())
    assert document["meta"]["dataset"] == url and document["meta"]["test_dataset"] == url
    scored = cli("benchmark", "score", "--data", url, "--predictions", str(local / "composite_images"),
                 "--name", "composite-copy", "--protocol", "ours", "--run", "runs/000_benchmark",
                 "--no-progress", "--bootstrap", "100")
    assert scored.returncode == 0, scored.stdout + scored.stderr
    document = json.loads((tmp_path / "runs" / "000_benchmark" / "report.json").read_text())
    assert document["meta"]["dataset"] == url
    summary = document["summary"]
    for metric in ("MSE", "fMSE", "PSNR", "fSSIM"):
        assert summary["composite-copy"]["metrics"][metric] == summary["composite"]["metrics"][metric]


def test_readers_trust_only_the_manifest(store: dict[str, str], tmp_path: Path) -> None:
    from ccharmony.dataset.store import open_dataset_location
    from ccharmony.errors import DatasetError

    fs = _fs()
    url = f"s3://{BUCKET}/verify"
    names = sorted(fs.find(f"{BUCKET}/verify"))
    composite = next(name for name in names if "/composite_images/" in name)
    original = fs.cat_file(composite)
    fs.pipe_file(composite, original[:-10])
    try:
        with pytest.raises(DatasetError, match=r"composite_images/.*: its bytes differ from MANIFEST.json"):
            with open_dataset_location(url, cache_dir=tmp_path / "cache"):
                pass
    finally:
        fs.pipe_file(composite, original)
    with pytest.raises(DatasetError, match=r"^s3://cch/in: no MANIFEST.json, so no finished ccharmony dataset"):
        with open_dataset_location(f"s3://{BUCKET}/in", cache_dir=tmp_path / "cache"):
            pass


def test_an_interrupted_store_build_resumes_to_the_same_bytes(store: dict[str, str], scenes: Path, local: Path,
                                                              tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/resumed"
    args = ["--raw-dir", f"s3://{BUCKET}/in/raw", "--annotations", f"s3://{BUCKET}/in/annotations", "--out", url]
    child = subprocess.Popen([sys.executable, "-m", "ccharmony", "build", "--k", str(K), "--no-progress", *args],
                             env={**os.environ, **store}, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    fs = _fs()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        fs.invalidate_cache()
        if fs.exists(f"{BUCKET}/resumed/.ccharmony-build/prepared"):
            break
        time.sleep(0.2)
    assert child.poll() is None, child.communicate()
    child.send_signal(signal.SIGINT)
    child.communicate(timeout=120)
    fs.invalidate_cache()
    left = sorted(fs.find(f"{BUCKET}/resumed"))
    assert not any(name.endswith("MANIFEST.json") for name in left)  # a reader sees no dataset
    assert any("/.ccharmony-build/prepared/" in name for name in left)
    done = _build(args, store, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "(resumed)" in done.stdout
    _same_but_inputs(_objects(f"{BUCKET}/resumed"), _files(local),
                     [(f"s3://{BUCKET}/in/raw", str(scenes / "raw")),
                      (f"s3://{BUCKET}/in/annotations", str(scenes / "annotations"))])


def test_one_build_per_prefix_and_a_dead_builds_lock_is_taken_over(store: dict[str, str], tmp_path: Path) -> None:
    from ccharmony.dataset.store_build import store_lock
    from ccharmony.errors import DatasetError

    url = f"s3://{BUCKET}/locked"
    with store_lock(url, lease_s=30):
        with pytest.raises(DatasetError, match=r"^s3://cch/locked: another ccharmony build holds this dataset "
                                               r"\(lock \.ccharmony-build\.lock: .* pid \d+, renewed 0 s ago\)"):
            with store_lock(url, lease_s=30):
                pass
        done = _build(["--out", url], store, tmp_path, timeout=60)
        assert done.returncode == 1
        assert done.stderr.startswith(f"ccharmony build: error: {url}: another ccharmony build holds this dataset")
    assert not _fs().exists(f"{BUCKET}/locked/.ccharmony-build.lock")  # released
    # A lock whose build died (never renewed, never released) is taken over once its lease is over.
    fs = _fs()
    fs.pipe_file(f"{BUCKET}/locked/.ccharmony-build.lock",
                 json.dumps({"owner": "dead", "host": "gone", "pid": 1, "renewed": time.time() - 5,
                             "lease_s": 2}).encode())
    with store_lock(url, lease_s=2) as lock:
        assert lock == f"{url}/.ccharmony-build.lock"
        assert json.loads(fs.cat_file(f"{BUCKET}/locked/.ccharmony-build.lock"))["owner"] != "dead"
