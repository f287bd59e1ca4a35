"""`support-desk worker` as a child process for the benchmarks (its own process group, like `ApiProcess`)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from bench.api_process import base_env, cli, stop_group
from bench.procstat import ProcSample, sample

STOP_TIMEOUT_SECONDS = 20.0


class WorkerProcess:
    def __init__(self, workdir: Path, env: Mapping[str, str], *args: str, name: str = "worker") -> None:
        self.workdir = workdir
        self.env = dict(env)
        self.args = args
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() first"
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> WorkerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                [*cli(), "worker", "--hostname", f"{self.name}@%h", *self.args],
                env=base_env(self.workdir, self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log_tail(self, chars: int = 1500) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def sample(self) -> ProcSample:
        return sample(self.pid)

    def kill(self) -> None:
        """kill -9 of the whole worker (its main process and every child), as a machine crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        stop_group(self.process)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
