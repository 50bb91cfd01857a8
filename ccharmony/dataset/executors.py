"""
Build executors
===============

Run the per-image stage functions of ``ccharmony build``
(:mod:`ccharmony.dataset.stages`) over many tasks, on this machine or on a Ray
cluster, with the same functions and the same results:

-   :func:`task_executor`: a context manager that opens one executor for a
    whole build (one process pool, or one Ray session) and yields a ``map``
    function ``run(function, tasks) -> iterator of (index, result)``.
-   :func:`map_local`: the in-process / process-pool map.
-   :func:`map_ray`: the same map as Ray tasks (``pip install "ccharmony[ray]"``).
-   :func:`prepare_worker`: one thread per worker, freed memory kept for reuse.

Every map yields ``(index, result)`` pairs as tasks finish, in any order; the
builder's single writer puts the results in place, so the dataset bytes do not
depend on the executor, the number of workers or the finishing order.

References
----------
-   :cite:`Moritz2018` : Moritz, P., Nishihara, R., Wang, S., Tumanov, A., Liaw,
    R., Liang, E., Elibol, M., Yang, Z., Paul, W., Jordan, M. I., & Stoica, I.
    (2018). Ray: A Distributed Framework for Emerging AI Applications. 13th
    USENIX Symposium on Operating Systems Design and Implementation (OSDI 18),
    561-577.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["EXECUTORS", "TaskMap", "task_executor", "map_local", "map_ray", "pool_context", "start_pool_server", "POOL_PRELOAD", "ray_session", "limit_threads", "keep_freed_memory", "prepare_worker"]

EXECUTORS = ("local", "ray")
"""Executor names accepted by :func:`task_executor` (``--executor``)."""

TaskMap = Callable[[Callable[[Any], Any], Sequence[Any]], Iterator[tuple[int, Any]]]
"""``run(function, tasks)``: yields ``(index, function(tasks[index]))`` as tasks finish."""

RAY_INSTALL_HINT = 'the ray executor needs Ray: pip install "ccharmony[ray]" (or pip install ray)'


def limit_threads() -> None:
    """
    Limit OpenCV and BLAS to one thread in this process.

    The pool (or the cluster) is the parallelism: one busy thread per worker
    keeps ``--workers N`` from oversubscribing the cores.
    """
    import cv2

    cv2.setNumThreads(1)
    try:
        import threadpoolctl  # type: ignore[import-not-found, unused-ignore]

        threadpoolctl.threadpool_limits(1)
    except ImportError:  # pragma: no cover - optional
        pass


def keep_freed_memory() -> None:
    """
    Tell glibc's allocator to keep freed memory for reuse in this process.

    ``mallopt``: no ``mmap`` for large blocks, trim the heap only above 1 GiB
    free. Each 24-megapixel image allocates and frees about a gigabyte of
    arrays; fresh pages cost a kernel page fault and zeroing each, which do not
    scale across processes on a small virtual machine, while reused heap
    memory does (decoding a 24-MP DNG: 0.34 s -> 0.19 s,
    ``benchmarks/build_speed.py``). The process keeps its peak memory until it
    exits, so only processes that build call it: pool and Ray workers
    (:func:`prepare_worker`) and ``ccharmony build`` itself with one worker.
    Elsewhere than glibc this is a no-op.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    mallopt(-4, 0)  # M_MMAP_MAX
    mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def prepare_worker() -> None:
    """
    Set up a worker process that this module started (pool or Ray worker).

    One thread for OpenCV and BLAS (:func:`limit_threads`), freed memory kept
    for reuse (:func:`keep_freed_memory`).
    """
    limit_threads()
    keep_freed_memory()


POOL_PRELOAD = (
    "numpy",
    "cv2",
    "rawpy",
    "colour",
    "ccharmony.io",
    "ccharmony.checker",
    "ccharmony.illuminant",
    "ccharmony.render",
    "ccharmony.transfer",
    "ccharmony.dataset.reapply",
    "ccharmony.dataset.stages",
)
"""Modules the local pool's fork server imports once for all its workers."""


def pool_context() -> Any:
    """
    Return the :mod:`multiprocessing` context of the local process pool.

    On Linux, ``forkserver`` with :data:`POOL_PRELOAD`: the server imports
    NumPy, OpenCV, rawpy and colour-science once (colour-science alone takes a
    second) and every worker starts as a fork of it, ready, where a spawned
    worker would import them all again. The server runs no OpenMP code, so its
    forks are safe; a plain ``fork`` of the building process would not be
    (rawpy warns about LibRaw's OpenMP, and Python 3.12+ about forking a
    process that runs threads). ``spawn`` elsewhere: Windows has no fork, and
    on macOS a fork after system frameworks are loaded (OpenCV links several)
    is not safe, which is why Python spawns there by default. See
    :func:`start_pool_server`.
    """
    import multiprocessing
    import sys

    if not sys.platform.startswith("linux"):  # pragma: no cover - tested on Linux
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(POOL_PRELOAD))
    return context


def start_pool_server() -> None:
    """
    Start the local pool's fork server now, without waiting for its imports.

    ``ccharmony build --workers N`` calls it first thing, so that the server
    imports the libraries (:data:`POOL_PRELOAD`) on another core while the
    command itself starts up; the pool of :func:`task_executor` then forks its
    workers from the running server. A no-op where the pool spawns.
    """
    context = pool_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def map_local(
    function: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    pool: Any = None,
) -> Iterator[tuple[int, Any]]:
    """
    Yield ``(index, function(task))`` for every task, in this process or a pool.

    Parameters
    ----------
    function
        A picklable (module-level) function of one task.
    tasks
        The tasks; the index refers to this sequence.
    pool
        A :class:`concurrent.futures.Executor`, or ``None`` to run the tasks one
        after the other in this process (in order).

    Returns
    -------
    iterator of (int, object)
        In finishing order with a pool. A task's exception is raised here.

    Examples
    --------
    >>> sorted(map_local(abs, [-2, 3]))
    [(0, 2), (1, 3)]
    """
    if pool is None:
        for index, task in enumerate(tasks):
            yield index, function(task)
        return
    import concurrent.futures as futures

    pending = {pool.submit(function, task): index for index, task in enumerate(tasks)}
    try:
        for future in futures.as_completed(list(pending)):
            # Drop every reference to a finished future: it holds its result.
            index = pending.pop(future)
            result = future.result()
            del future
            yield index, result
            del result
    finally:
        for future in pending:
            future.cancel()


def _ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_INSTALL_HINT) from None
    return ray


def _call_in_ray_worker(function: Callable[[Any], Any], task: Any) -> Any:
    prepare_worker()
    return function(task)


@contextlib.contextmanager
def ray_session(*, address: str | None = None, workers: int = 1) -> Iterator[Any]:
    """
    Connect to Ray for the duration of a ``with`` block; yield the ``ray`` module.

    Parameters
    ----------
    address
        A running cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``);
        ``None`` reuses the session this process already has, or starts a
        local instance with ``workers`` CPUs.
    workers
        CPUs of a local instance started here (ignored for a cluster).

    Notes
    -----
    A session started here is shut down when the block ends; one that was
    already running (a test's or a notebook's ``ray.init``) is left running.
    """
    ray = _ray_module()
    started = False
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        if address is None:
            options["num_cpus"] = int(workers)
        else:
            options["address"] = address
        try:
            ray.init(**options)
        except ConnectionError as error:
            raise ConfigError(f"--ray-address {address!r}: cannot connect to a Ray cluster ({error})") from None
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def map_ray(
    function: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    address: str | None = None,
    workers: int = 1,
) -> Iterator[tuple[int, Any]]:
    """
    Yield ``(index, function(task))`` for every task, each run as a Ray task.

    Parameters
    ----------
    function
        A module-level function of one task (Ray workers import it by name, so
        every node needs the same ``ccharmony`` installed).
    tasks
        The tasks; paths in them must be readable from every node (a shared
        file system on a cluster).
    address
        See :func:`ray_session`.
    workers
        CPUs of a local Ray instance started here.

    Returns
    -------
    iterator of (int, object)
        In finishing order. A task's exception is raised here as its own type.

    Raises
    ------
    ConfigError
        Ray is not installed, or the cluster cannot be reached.
    """
    with ray_session(address=address, workers=workers) as ray:
        yield from _map_ray(ray, function, tasks)


def _map_ray(ray: Any, function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
    if not tasks:
        return
    remote = ray.remote(num_cpus=1, max_retries=0)(_call_in_ray_worker)
    pending = {remote.remote(function, task): index for index, task in enumerate(tasks)}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for reference in done:
                index = pending.pop(reference)
                try:
                    result = ray.get(reference)
                except ray.exceptions.RayTaskError as error:
                    raise error.as_instanceof_cause() from None
                del reference
                yield index, result
                del result
    finally:
        for reference in pending:
            ray.cancel(reference, force=True)


@contextlib.contextmanager
def task_executor(
    *,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
) -> Iterator[TaskMap]:
    """
    Open one executor for a whole build; yield its ``run(function, tasks)``.

    Parameters
    ----------
    executor
        ``local``: one worker runs the tasks in this process, more run them in
        a pool of ``workers`` processes (:func:`pool_context`, one thread
        each), started at once and kept for every stage of the build (see :func:`prepare_worker`); ``ray``: Ray
        tasks (see :func:`map_ray`).
    workers
        Processes of the local pool, or CPUs of a local Ray instance.
    ray_address
        Ray cluster address (``ray`` only).

    Raises
    ------
    ConfigError
        Unknown executor or worker count below 1; Ray missing or unreachable.

    Examples
    --------
    >>> with task_executor(workers=1) as run:
    ...     sorted(run(abs, [-1, -5]))
    [(0, 1), (1, 5)]
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor must be one of {EXECUTORS}, got {executor!r}")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if executor == "ray":
        with ray_session(address=ray_address, workers=workers) as ray:

            def run_ray(function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
                return _map_ray(ray, function, tasks)

            yield run_ray
        return
    if workers == 1:

        def run_here(function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
            return map_local(function, tasks)

        yield run_here
        return
    import concurrent.futures as futures

    with futures.ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=prepare_worker) as pool:
        # Start every worker now, before the caller starts threads of its own
        # (a fork must not copy a lock another thread holds).
        for future in [pool.submit(int) for _ in range(workers)]:
            future.result()

        def run_pool(function: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
            return map_local(function, tasks, pool=pool)

        yield run_pool
