"""A bounded load test: N keep-alive connections send valid ``/predict`` requests for D seconds.

The client is one asyncio loop writing pre-encoded HTTP/1.1 requests and reading just the status
line, headers and body: a few microseconds a request, so on a small machine nearly all the CPU
is left to the server. The server's memory is measured after a warm-up (first-touch allocations:
imports, caches, arenas, are not growth) and again at the end; growth beyond a threshold, or any
error, fails the run.
"""

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core import schema
from ..core.synthetic import generate_customers
from ..core.validation import validate_customers
from .server import Server

REQUEST_TIMEOUT = 30.0
#: Distinct bodies cycled through: enough variety, encoded once before the clock starts.
BODIES = 512
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)


def contract_rows(count: int, seed: int = 0) -> list[dict]:
    """``count`` customers that pass the data contract, as a JSON client sends them."""
    raw = generate_customers(count, np.random.default_rng(seed)).astype(str)
    valid = validate_customers(raw).valid[list(schema.INPUT_COLUMNS)]
    return json.loads(valid.to_json(orient="records"))


def http_request(
    server: Server, method: str, path: str, body: object = None, headers: dict | None = None
) -> bytes:
    """One HTTP/1.1 request as bytes, JSON body encoded, for a keep-alive connection."""
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {server.host}:{server.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


@dataclass
class Answer:
    status: int
    body: bytes
    #: The server will close the connection after this answer.
    closing: bool


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> Answer:
    """Send one request and read its answer (Content-Length framed, as the server sends)."""
    writer.write(request)
    async with asyncio.timeout(REQUEST_TIMEOUT):
        head = await reader.readuntil(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(head)
        body = await reader.readexactly(int(length[1])) if length else b""
    return Answer(int(head[9:12]), body, bool(_CLOSE.search(head)))


@dataclass
class LoadStats:
    """What the clients saw: latencies of answered requests, errors by kind, one example each."""

    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def error(self, kind: str, example: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, example[:300])


@dataclass(frozen=True)
class Measured:
    """When the load started, and the server's RSS after the warm-up and at the end."""

    started: float
    rss_before: int | None
    rss_after: int | None


@dataclass
class LoadReport:
    url: str
    concurrency: int
    duration_s: float
    warmup_s: float
    requests: int
    throughput_rps: float
    error_count: int
    errors: dict[str, int]
    error_examples: dict[str, str]
    latency_ms: dict[str, float]
    rss_mb_before: float | None
    rss_mb_after: float | None
    rss_growth_pct: float | None
    max_rss_growth_pct: float
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def lines(self) -> list[str]:
        """A readable table of the figures, then the verdict."""
        latency = self.latency_ms
        rss = (
            f"{self.rss_mb_before:.1f} MB -> {self.rss_mb_after:.1f} MB "
            f"({self.rss_growth_pct:+.1f}%; before = after a {self.warmup_s:g} s warm-up, "
            "so first-touch allocations are not counted as growth)"
            if self.rss_growth_pct is not None
            else "not measured (no pid of the server, or no /proc)"
        )
        errors = ", ".join(f"{kind}: {n}" for kind, n in self.errors.items()) or "none"
        rows = [
            ("server", self.url),
            ("load", f"{self.concurrency} connections for {self.duration_s:g} s"),
            ("requests", f"{self.requests:,} ({self.throughput_rps:,.0f}/s)"),
            ("errors", f"{self.error_count:,} ({errors})"),
            ("latency ms", " ".join(f"{k} {v:.2f}" for k, v in latency.items())),
            ("server RSS", rss),
        ]
        verdict = ["OK"] if self.ok else [f"FAILED: {problem}" for problem in self.problems]
        return [f"{name:<11} {value}" for name, value in rows] + verdict


def run(
    server: Server,
    duration: float = 60.0,
    concurrency: int = 16,
    max_rss_growth_pct: float = 10.0,
    headers: dict[str, str] | None = None,
    progress: bool = True,
) -> LoadReport:
    """Load ``server`` with valid ``/predict`` requests; the report says what failed."""
    warmup = round(min(5.0, max(1.0, duration / 10)), 1)
    requests = [
        http_request(server, "POST", "/predict", row, headers) for row in contract_rows(BODIES)
    ]
    stats = LoadStats()
    started, rss_before, rss_after = asyncio.run(
        _drive(server, requests, duration, warmup, concurrency, stats, progress)
    )
    measured = Measured(started, rss_before, rss_after)
    return _report(server, stats, duration, warmup, concurrency, max_rss_growth_pct, measured)


async def _drive(
    server: Server,
    requests: list[bytes],
    duration: float,
    warmup: float,
    concurrency: int,
    stats: LoadStats,
    progress: bool,
) -> tuple[float, int | None, int | None]:
    started = time.perf_counter()
    deadline = started + duration
    clients = [
        asyncio.create_task(_client(server, requests, i, deadline, stats))
        for i in range(concurrency)
    ]
    with tqdm(total=round(duration), unit="s", disable=not progress, desc="load") as bar:
        await _tick(bar, stats, started, started + warmup)
        rss_before = server.rss_bytes()
        await _tick(bar, stats, started, deadline)
        await asyncio.gather(*clients)
    return started, rss_before, server.rss_bytes()


async def _tick(bar: tqdm, stats: LoadStats, started: float, until: float) -> None:
    """Move the progress bar once a second until ``until``, with the counts so far."""
    while (left := until - time.perf_counter()) > 0:
        await asyncio.sleep(min(1.0, left))
        bar.n = min(bar.total or 0, round(time.perf_counter() - started))
        bar.set_postfix(requests=stats.sent, errors=sum(stats.errors.values()))


async def _client(
    server: Server, requests: list[bytes], first: int, deadline: float, stats: LoadStats
) -> None:
    """One keep-alive connection, sending until the deadline; reconnects after an error."""
    connection = None
    sent = first
    while time.perf_counter() < deadline:
        request = requests[sent % len(requests)]
        sent += 1
        stats.sent += 1
        try:
            if connection is None:
                connection = await asyncio.open_connection(server.host, server.port)
            begun = time.perf_counter()
            answer = await exchange(*connection, request)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            stats.error(type(error).__name__, str(error))
            _close(connection)
            connection = None
            continue
        stats.latencies.append(time.perf_counter() - begun)
        if answer.status != 200:
            stats.error(f"HTTP {answer.status}", answer.body.decode(errors="replace"))
        if answer.closing:
            _close(connection)
            connection = None
    _close(connection)


def _close(connection) -> None:
    if connection is not None:
        connection[1].close()


def _report(
    server: Server,
    stats: LoadStats,
    duration: float,
    warmup: float,
    concurrency: int,
    max_growth: float,
    measured: "Measured",
) -> LoadReport:
    elapsed = time.perf_counter() - measured.started
    rss_before, rss_after = measured.rss_before, measured.rss_after
    latencies = np.asarray(stats.latencies) * 1000 if stats.latencies else np.zeros(1)
    latency = {
        name: round(float(np.percentile(latencies, q)), 3)
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
    }
    growth = 100 * (rss_after - rss_before) / rss_before if rss_before and rss_after else None
    error_count = sum(stats.errors.values())
    problems = []
    if error_count:
        problems.append(f"{error_count} request(s) failed: {dict(stats.errors)}")
    if growth is not None and growth >= max_growth:
        problems.append(f"the server's RSS grew {growth:.1f}% (limit {max_growth:g}%)")
    if not stats.latencies:
        problems.append("no request was answered")
    return LoadReport(
        url=server.url,
        concurrency=concurrency,
        duration_s=duration,
        warmup_s=warmup,
        requests=stats.sent,
        throughput_rps=round(stats.sent / elapsed, 1),
        error_count=error_count,
        errors=dict(stats.errors),
        error_examples=stats.examples,
        latency_ms=latency,
        rss_mb_before=_mb(rss_before),
        rss_mb_after=_mb(rss_after),
        rss_growth_pct=round(growth, 2) if growth is not None else None,
        max_rss_growth_pct=max_growth,
        problems=problems,
    )


def _mb(size: int | None) -> float | None:
    return round(size / 2**20, 1) if size is not None else None


def write_report(report: dict, path: Path) -> Path:
    """The report as indented JSON (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path
