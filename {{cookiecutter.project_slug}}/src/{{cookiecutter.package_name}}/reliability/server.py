"""The server a reliability check talks to: one it starts, or one that already runs.

``ServerProcess`` runs the project's own ``serve`` command on 127.0.0.1 (a free port) in its own
process group, with settings given as environment overrides and its output in a log file. It
waits, bounded, for ``/ready``; ``stop`` sends SIGTERM to the group, then SIGKILL if it lingers;
``kill9`` kills it as a crash would. ``running(url)`` wraps a server someone else started.
"""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..settings import ENV_PREFIX

PACKAGE = __name__.split(".")[0]
HOST = "127.0.0.1"
#: Starting imports MLflow and loads the model: a minute or two on a busy two-core machine.
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
LOG_TAIL = 3_000


class ServerError(RuntimeError):
    """The server exited or never became ready; the message ends with its log's tail."""


@dataclass(frozen=True)
class Server:
    """Where a server answers, and its process id when it is known (for its memory)."""

    url: str
    pid: int | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or HOST

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, dict]:
        """Status and JSON body of ``GET path`` (an empty dict when the body is not JSON)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        try:
            body = json.loads(data)
        except ValueError:
            body = {}
        return answer.status, body if isinstance(body, dict) else {}

    def rss_bytes(self) -> int | None:
        """The server's resident memory now; None without a pid or off Linux."""
        return rss_bytes(self.pid) if self.pid is not None else None


def running(url: str, pid: int | None = None) -> Server:
    """A server started elsewhere, e.g. ``http://127.0.0.1:8000``."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ServerError(f"--url: not an http(s) URL with a host: {url!r}")
    return Server(url.rstrip("/"), pid)


def rss_bytes(pid: int) -> int | None:
    """Resident set size of a process from /proc (Linux; no dependency); None elsewhere."""
    status = Path(f"/proc/{pid}/status")
    try:
        text = status.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # reported in kB
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def setting_overrides(**fields: object) -> dict[str, str | None]:
    """Settings as the server reads them from its environment: ``audit_durable=True`` becomes
    ``<PREFIX>AUDIT_DURABLE=true``; None unsets the variable."""
    return {
        f"{ENV_PREFIX}{name.upper()}": _env_value(value) if value is not None else None
        for name, value in fields.items()
    }


def _env_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class ServerProcess:
    """``serve`` in its own process group. Use as a context manager: it is stopped on exit.

    ``env`` changes the inherited environment (a None value removes a variable); ``cwd`` is
    the working folder (its .env is read); the log goes to ``folder/server.log``, appended to
    across restarts.
    """

    def __init__(
        self,
        folder: Path,
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ):
        self.folder, self.cwd, self.ready_timeout = folder, cwd or Path.cwd(), ready_timeout
        self.env = dict(env or {})
        self.log_path = folder / "server.log"
        self.process: subprocess.Popen | None = None
        self.server: Server | None = None

    def start(self) -> Server:
        """Start the server and wait until ``/ready`` answers 200; ServerError otherwise."""
        self.folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        command = [sys.executable, "-m", PACKAGE, "serve", "--host", HOST, "--port", str(port)]
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- {' '.join(command)}\n")
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and package)
                command,
                cwd=self.cwd,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one
            )
        self.server = Server(f"http://{HOST}:{port}", self.process.pid)
        try:
            self._wait_ready(self.server)
        except BaseException:
            self.stop()
            raise
        return self.server

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM to the group, a bounded wait, then SIGKILL; the exit code (None if never
        started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def kill9(self) -> None:
        """SIGKILL to the whole group, as a crash or the OOM killer would; waits for the exit."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)

    def log_tail(self, chars: int = LOG_TAIL) -> str:
        if not self.log_path.is_file():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()

    def _environment(self) -> dict[str, str]:
        env = {**os.environ}
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        # The package as this process imports it, installed or not, from any working folder.
        source = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        return env

    def _signal(self, number: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):  # the group is gone already
                os.killpg(self.process.pid, number)

    def _wait_ready(self, server: Server) -> None:
        process = self.process
        if process is None:
            raise ServerError("the server was not started")
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerError(
                    f"the server exited with code {process.returncode} before it was "
                    f"ready; {self.log_path}:\n{self.log_tail()}"
                )
            try:
                status, body = server.get("/ready", timeout=5)
            except OSError:
                status, body = 0, {}  # not listening yet
            if status == 200:
                return
            if status == 503 and "loading" not in str(body.get("reason", "loading")):
                raise ServerError(f"the server refused its model: {body['reason']}")
            time.sleep(0.25)
        raise ServerError(
            f"the server was not ready after {self.ready_timeout:.0f} s; {self.log_path}:\n"
            f"{self.log_tail()}"
        )


def champion_server(folder: Path, **settings: object) -> ServerProcess:
    """The project's server over its configured model (the registry's champion by default),
    run from the current folder (its .env applies), with its logs moved into ``folder`` so a
    check never writes into the real prediction{% if cookiecutter|layer_enabled("governance") %} or audit{% endif %} log; ``settings`` override more."""
    logs = setting_overrides(
        prediction_log_dir=folder / "predictions",
{%- if cookiecutter|layer_enabled("governance") %}
        audit_log_dir=folder / "audit",
{%- endif %}
    )
    return ServerProcess(folder, {**logs, **setting_overrides(**settings)})


def client_headers(api_key: str | None = None, admin_token: str | None = None) -> dict[str, str]:
    """The headers a client needs for the prediction routes (key) and admin routes (token)."""
    headers = {"X-API-Key": api_key} if api_key else {}
    if admin_token:
        headers["Authorization"] = f"Bearer {admin_token}"
    return headers
