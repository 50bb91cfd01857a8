"""
Helpers (not tests): run ``ccharmony`` commands in their own processes, fast.

``python -m ccharmony`` spends 3-8 s importing colour-science, OpenCV and torch on the CI
machine before it reads its first argument, which a suite of dozens of hostile-input cases
cannot afford. :class:`ForkedCLI` starts one interpreter that imports the package once and
then forks one child per command: each command still runs in its own process, with its own
working folder, environment, standard streams (stdout a strict UTF-8 stream, as under
``PYTHONIOENCODING=utf-8:strict``; stdin ``/dev/null``) and exit status, and a command that
hangs is killed after its timeout and reported as such. Only imports happen before the fork
(no thread pool is started), the same precaution as the builder's own fork server.

What a fork cannot show (the interpreter's own start-up and exit: ``-m`` dispatch, the final
flush of a closed pipe) is tested with real ``python -m ccharmony`` subprocesses.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

_SERVER = r'''
import io, json, os, sys, traceback
import ccharmony.cli, ccharmony.checker, ccharmony.io, ccharmony.dataset.verify, ccharmony.report  # preload
import importlib
for module in PRELOAD:
    importlib.import_module(module)  # imported only: no thread pool is started before a fork
from ccharmony.cli import main
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(request["cwd"])
            os.environ.update(request["env"])
            for fd, name, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                                    (2, request["stderr"], os.O_WRONLY)):
                opened = os.open(name, flags)
                os.dup2(opened, fd)
                os.close(opened)
            sys.stdin = open(0, closefd=False)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="strict")
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                          errors="backslashreplace", line_buffering=True)
            sys.argv = ["ccharmony"]
            try:
                status = main(request["args"])
            except SystemExit as exit:
                status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
            except BaseException:
                traceback.print_exc()
                status = 1
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                pass
            sys.stderr.flush()
        except BaseException:
            traceback.print_exc()
            status = 1
        os._exit(status)
    print(json.dumps({"pid": pid}), flush=True)
    _, wait_status = os.waitpid(pid, 0)
    print(json.dumps({"status": os.waitstatus_to_exitcode(wait_status)}), flush=True)
'''


class ForkedCLI:
    """One preloaded interpreter; :meth:`run` forks a child per ``ccharmony`` command."""

    def __init__(self, *, preload: tuple[str, ...] = ()) -> None:
        """Start the server; ``preload`` names more modules to import once (``"ccharmony.harmonization.predict"``)."""
        code = f"PRELOAD = {list(preload)!r}\n" + _SERVER
        self._server = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self._scratch = Path(tempfile.mkdtemp(prefix="forked-cli-"))
        self._count = 0

    def run(self, *args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ``ccharmony ARGS`` in a forked child; stdout and stderr come back as bytes."""
        self._count += 1
        out, err = self._scratch / f"{self._count}.out", self._scratch / f"{self._count}.err"
        out.touch()
        err.touch()
        request = {"args": list(args), "cwd": str(cwd or os.getcwd()), "env": env or {},
                   "stdout": str(out), "stderr": str(err)}
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        pid = json.loads(self._server.stdout.readline())["pid"]
        ready, _, _ = select.select([self._server.stdout], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            self._server.stdout.readline()
            raise subprocess.TimeoutExpired(["ccharmony", *args], timeout,
                                            output=out.read_bytes(), stderr=err.read_bytes())
        status = json.loads(self._server.stdout.readline())["status"]
        return subprocess.CompletedProcess(["ccharmony", *args], status, out.read_bytes(), err.read_bytes())

    def close(self) -> None:
        """Stop the server (its children have all been waited for)."""
        if self._server.stdin is not None:
            self._server.stdin.close()
        try:
            self._server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        if self._server.stdout is not None:
            self._server.stdout.close()
        for path in self._scratch.iterdir():
            path.unlink()
        self._scratch.rmdir()
