"""The daemon's lifecycle: probe it, start `ollama serve` when it is down, stop what we started.

Auto-start only applies to a loopback host (a remote daemon is somebody else's to run). The child
is detached (its own session, stdin from /dev/null) and writes to `logs/ollama-serve.log` in the
data directory: never to a pipe we would have to keep reading, or it blocks once the pipe fills.
Concurrent callers that find the daemon down share one start attempt.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import anyio
import structlog

from mcp_ollama.deadline import pending
from mcp_ollama.errors import (
    OllamaConnectionError,
    OllamaStartupError,
    OllamaTimeoutError,
    StorageError,
)
from mcp_ollama.hosts import HostConfig
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import VersionInfo
from mcp_ollama.settings import Settings
from mcp_ollama.storage import atomic_write_text, make_private_dir, refuse_links

__all__ = ["DaemonManager", "daemon_address", "find_ollama_binary", "missing_binary_error"]

logger = structlog.get_logger()

LOG_NAME = "ollama-serve.log"
PID_NAME = "ollama-serve.pid"
MAX_LOG_BYTES = 10 * 1024 * 1024
START_ADVICE = (
    "Start Ollama yourself (`ollama serve`, or the Ollama app) and call again, or pass a larger "
    "`timeout`: a first start can take a while"
)
PROBE_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0  # then SIGKILL; well inside the server's 8 s shutdown backstop
LOG_TAIL_LINES = 3

if sys.platform == "win32":  # the Windows spelling of start_new_session
    _DETACHED_FLAGS = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
else:
    _DETACHED_FLAGS = 0


def find_ollama_binary(settings: Settings) -> str | None:
    """The `ollama` executable's path (a name looked up on PATH, or a path), or None."""
    return shutil.which(settings.ollama_bin)


def daemon_address(base_url: str) -> str:
    """`host:port` for `OLLAMA_HOST` of a daemon we start: where we will connect.

    >>> daemon_address('http://127.0.0.1:5555/x')
    '127.0.0.1:5555'
    >>> daemon_address('http://[::1]:11434')
    '[::1]:11434'
    """
    return base_url.split("://", 1)[1].split("/", 1)[0]


def missing_binary_error(settings: Settings, base_url: str) -> OllamaStartupError:
    """The error when there is no `ollama` executable to start or fall back to."""
    what = (
        f"Ollama is not running at {base_url} and no `ollama` executable was found "
        f"(looked for {settings.ollama_bin!r} on PATH)"
    )
    return OllamaStartupError(
        f"{what}. Install Ollama from https://ollama.com/download (or set MCP_OLLAMA_OLLAMA_BIN "
        "to its path), or set OLLAMA_HOST to the address of a running Ollama.",
        what=what,
    )


class DaemonManager:
    """Starts the local daemon on demand and stops it at exit if we started it and may."""

    def __init__(
        self,
        settings: Settings,
        client: OllamaClient,
        *,
        host: HostConfig | None = None,
        label: str | None = None,
    ) -> None:
        self.settings = settings
        self.host = host or settings.host_configs()[0]
        # Several daemons of one fleet on this machine each get their own log and pid file.
        self._suffix = f"-{_file_safe(label)}" if label else ""
        self._client = client
        self._lock = anyio.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._checked = False
        self.starts = 0

    @property
    def can_start(self) -> bool:
        """Whether auto-start applies: enabled, and the daemon is on this machine."""
        return self.settings.auto_start and self.host.is_local

    @property
    def log_path(self) -> Path:
        """Where a daemon we start writes its output."""
        return self.settings.logs_dir / LOG_NAME.replace(".log", f"{self._suffix}.log")

    @property
    def pid_path(self) -> Path:
        """Holds the process id of a daemon we started while it runs (for people and tests)."""
        return self.settings.logs_dir / PID_NAME.replace(".pid", f"{self._suffix}.pid")

    @property
    def started_by_us(self) -> bool:
        """Whether a daemon we started is still running."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id of the daemon we started, if any."""
        return self._process.pid if self._process is not None else None

    async def probe(self) -> VersionInfo | None:
        """The daemon's version if it answers now (one quick request, no retries), else None.

        Raises:
            OllamaError: something answered that is not Ollama (nothing to start: the address
                is taken, and the error says so).
        """
        with anyio.move_on_after(PROBE_TIMEOUT):
            with contextlib.suppress(OllamaConnectionError, OllamaTimeoutError):
                return await self._client.version(retries=0)
        return None

    async def ensure_running(self) -> None:
        """On first use only: start the daemon if it is down and auto-start applies.

        Later failures go through `recover()`; this saves the first call a round of retries
        against a daemon that is not there.

        Raises:
            OllamaStartupError: the daemon is down and could not be started.
        """
        if self._checked or not self.can_start:
            return
        with self._starting():
            async with self._lock:
                if self._checked:
                    return
                if await self.probe() is None:
                    await self._start()
                self._checked = True

    async def recover(self) -> bool:
        """After a connection failure: start the daemon if it is down and auto-start applies.

        Returns True when the daemon answers now (started by us or by a concurrent caller), so the
        failed call is worth one more try; False when auto-start does not apply.

        Raises:
            OllamaStartupError: the daemon is down and could not be started.
        """
        if not self.can_start:
            return False
        with self._starting():
            async with self._lock:  # a concurrent caller's start is visible to the probe below
                self._checked = True
                if await self.probe() is not None:
                    return True
                await self._start()
                return True

    def _starting(self) -> contextlib.AbstractContextManager[None]:
        """What a call's deadline names when it ends while the daemon is being started (by
        this call, or by a concurrent one it waits for)."""
        return pending(f"starting Ollama at {self.host.base_url} (`ollama serve`)", START_ADVICE)

    async def stop(self) -> None:
        """At shutdown: stop the daemon if we started it and `stop_daemon_on_exit` asks for it."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        if not self.settings.stop_daemon_on_exit:
            logger.info("daemon left running", pid=process.pid)
            return
        await _terminate(process)
        self._forget_pid()
        logger.info("daemon stopped", pid=process.pid, returncode=process.returncode)

    # -- starting ---------------------------------------------------------------------------

    async def _start(self) -> None:
        binary = find_ollama_binary(self.settings)
        if binary is None:
            raise missing_binary_error(self.settings, self.host.base_url)
        process = self._spawn(binary)
        self.starts += 1
        logger.info("starting ollama serve", pid=process.pid, log=str(self.log_path))
        try:
            self._write_pid(process.pid)
            await self._wait_ready(process)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await _terminate(process)
            self._forget_pid()
            raise
        self._process = process
        logger.info("daemon ready", pid=process.pid, url=self.host.base_url)

    def _write_pid(self, pid: int) -> None:
        try:
            atomic_write_text(self.pid_path, f"{pid}\n", root=self.settings.data_dir)
        except StorageError as exc:  # a convenience for people; the daemon runs without it
            logger.warning("daemon pid file not written", error=str(exc))

    def _open_log(self) -> BinaryIO:
        """The daemon's log file, or the null device when the data directory is read-only (a
        daemon without a log beats no daemon)."""
        try:
            refuse_links(self.settings.data_dir, self.log_path)  # never append to another file
            make_private_dir(self.settings.logs_dir)
            _rotate(self.log_path)
            return self.log_path.open("ab")
        except (OSError, StorageError) as exc:
            error = exc.strerror if isinstance(exc, OSError) else None
            logger.warning(
                "daemon log not writable; its output is discarded",
                path=str(self.log_path),
                error=error or str(exc),
            )
            return open(os.devnull, "ab")  # the caller closes it

    def _spawn(self, binary: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "OLLAMA_HOST": daemon_address(self.host.base_url)}
        with self._open_log() as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            with contextlib.suppress(OSError):  # a full disk: the daemon still starts
                log.write(f"--- mcp-ollama: {binary} serve at {stamp} ---\n".encode())
                log.flush()
            try:
                return subprocess.Popen(  # the child keeps its own copy of the log descriptor
                    [binary, "serve"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    close_fds=True,
                    start_new_session=True,  # no SIGINT from our terminal; outlives us
                    creationflags=_DETACHED_FLAGS,
                )
            except OSError as exc:
                raise OllamaStartupError(
                    f"cannot run {binary!r}: {exc.strerror or exc}; reinstall Ollama from "
                    "https://ollama.com/download or set MCP_OLLAMA_OLLAMA_BIN to a working binary"
                ) from exc

    async def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        timeout = self.settings.startup_timeout
        delay = 0.05
        with anyio.move_on_after(timeout):
            while True:
                if await self.probe() is not None:
                    return
                if process.poll() is not None:
                    what = (
                        f"`ollama serve` exited with code {process.returncode} before answering "
                        f"at {self.host.base_url}: {self._log_tail()}"
                    )
                    raise OllamaStartupError(
                        f"{what}. See {self.log_path}; if another program holds the port, set "
                        "OLLAMA_HOST to a free address.",
                        what=what,
                    )
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.5)
        what = f"`ollama serve` did not answer at {self.host.base_url} within {timeout:g} s"
        raise OllamaStartupError(
            f"{what} and was stopped; see {self.log_path}. On a slow machine raise "
            "MCP_OLLAMA_STARTUP_TIMEOUT, or start Ollama yourself.",
            what=what,
        )

    def _forget_pid(self) -> None:
        with contextlib.suppress(OSError):
            self.pid_path.unlink()

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "no log"
        tail = [line.strip() for line in lines if line.strip() and not line.startswith("---")]
        return " | ".join(tail[-LOG_TAIL_LINES:]) or "no output"


def _file_safe(label: str) -> str:
    """A host name as part of a file name.

    >>> _file_safe('127.0.0.1:5001')
    '127.0.0.1-5001'
    """
    return re.sub(r"[^A-Za-z0-9_.-]", "-", label)


def _rotate(path: Path) -> None:
    """Keep one previous log once the current one grows past `MAX_LOG_BYTES`."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > MAX_LOG_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))


async def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop for `ollama serve`), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    wait = functools.partial(process.wait, timeout=STOP_TIMEOUT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        await anyio.to_thread.run_sync(wait)
    if process.poll() is None:
        process.kill()
        remaining = max(deadline - time.monotonic(), 1.0)
        await anyio.to_thread.run_sync(functools.partial(process.wait, timeout=remaining))
