"""Crash safety: kill -9 the server under load, restart it, and check what it had answered.

The server runs with its prediction log on{% if cookiecutter|layer_enabled("governance") %} and the audit log durable (fsync before each answer){% endif %}.
Concurrent clients send ``/predict`` and ``/predict/batch`` requests, each with its own
``X-Request-ID``, and remember every id answered 200. Once enough were answered, the whole
process group gets SIGKILL with requests in flight. The server is started again on the same
folders, and then:

- every prediction-log line parses (no torn or glued record);
{%- if cookiecutter|layer_enabled("governance") %}
- the audit log's hash chain verifies;
{%- endif %}
- every request answered 200 has one prediction-log record per row{% if cookiecutter|layer_enabled("governance") %}, and one audit record
  per row{% endif %};
- the restarted server answers, and its answers are logged{% if cookiecutter|layer_enabled("governance") %} and extend the chain (which
  still verifies){% endif %}.
"""

import asyncio
{% if cookiecutter|layer_enabled("governance") -%}
import contextlib
import json
{% endif -%}
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

{% if cookiecutter|layer_enabled("governance") -%}
from ..io.audit_log import read_lines
{% endif -%}
from ..io.prediction_log import read_predictions
{%- if cookiecutter|layer_enabled("governance") %}
from ..jobs.governance import verify_audit
{%- endif %}
from .load import contract_rows, exchange, http_request
from .server import Server, ServerProcess, setting_overrides

#: Every BATCH_EVERY-th request is a batch of BATCH_ROWS customers (a multi-row write).
BATCH_EVERY, BATCH_ROWS = 4, 8
AFTER_RESTART = 20


@dataclass
class Sent:
    """What the clients sent, and what was answered 200: request id -> rows."""

    answered: dict[str, int] = field(default_factory=dict)
    failed: Counter = field(default_factory=Counter)
    sent: int = 0


@dataclass
class CrashReport:
    concurrency: int
    requests_sent: int
    answered_200: int
    unanswered_at_kill: dict[str, int]
    seconds_to_kill: float
    seconds_to_restart: float
    prediction_records: int
    torn_lines: int
    missing_predictions: list[str]
{%- if cookiecutter|layer_enabled("governance") %}
    audit_records: int
    audit_verify: str
    missing_audit: list[str]
{%- endif %}
    after_restart_200: int
    problems: list[str]
    #: The logs as the kill left them (before the restart): see ``logs_state``.
    at_kill: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def lines(self) -> list[str]:
        rows = [
            f"sent {self.requests_sent:,} requests on {self.concurrency} connections; "
            f"{self.answered_200:,} answered 200 before kill -9 at {self.seconds_to_kill:.1f} s "
            f"(in flight, unanswered: {sum(self.unanswered_at_kill.values())})",
            f"right after the kill: {_describe(self.at_kill)}",
            f"restarted and ready in {self.seconds_to_restart:.1f} s; "
            f"{self.after_restart_200}/{AFTER_RESTART} answered 200 after the restart",
            f"prediction log: {self.prediction_records:,} records, {self.torn_lines} torn lines, "
            f"{len(self.missing_predictions)} answered request(s) without their records",
{%- if cookiecutter|layer_enabled("governance") %}
            f"audit log: {self.audit_records:,} records, verify: {self.audit_verify}, "
            f"{len(self.missing_audit)} answered request(s) without their records",
{%- endif %}
        ]
        verdict = ["OK"] if self.ok else [f"FAILED: {problem}" for problem in self.problems]
        return rows + verdict


def _describe(state: dict[str, Any]) -> str:
    return ", ".join(f"{name.replace('_', ' ')}: {value}" for name, value in state.items())


def crash_settings(folder: Path) -> dict[str, str | None]:
    """The server's logs in ``folder``{% if cookiecutter|layer_enabled("governance") %}, the audit log durable{% endif %}."""
    return setting_overrides(
        prediction_log_dir=folder / "predictions",
{%- if cookiecutter|layer_enabled("governance") %}
        audit_log_dir=folder / "audit",
        audit_durable=True,
{%- endif %}
    )


def run(
    folder: Path,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    kill_after: int = 2_000,
    concurrency: int = 16,
) -> CrashReport:
    """Kill the server once ``kill_after`` requests were answered 200; restart and check.

    ``env`` adds settings (e.g. the registry); ``folder`` holds the logs and the server log.
    """
    env = {**(env or {}), **crash_settings(folder)}
    bodies = _bodies()
    first = ServerProcess(folder, env, cwd)
    server = first.start()
    began = time.monotonic()
    try:
        sent = asyncio.run(_load_until_killed(server, first, bodies, kill_after, concurrency))
    finally:
        first.kill9()
    seconds_to_kill = time.monotonic() - began
    at_kill = logs_state(folder)  # as the kill left them, before a restart repairs anything
    restarted = time.monotonic()
    with ServerProcess(folder, env, cwd) as again:
        seconds_to_restart = time.monotonic() - restarted
        after = asyncio.run(_after_restart(again, bodies))
    report = _check(folder, sent, after, concurrency, seconds_to_kill, seconds_to_restart)
    report.at_kill = at_kill
    report.problems += [f"right after the kill: {problem}" for problem in _state_problems(at_kill)]
    return report


def logs_state(folder: Path) -> dict[str, Any]:
    """Whether the logs read back whole: torn prediction-log lines{% if cookiecutter|layer_enabled("governance") %}, the audit chain's verdict{% endif %}."""
    state: dict[str, Any] = {"torn_lines": read_predictions(folder / "predictions").torn}
{%- if cookiecutter|layer_enabled("governance") %}
    verdict = verify_audit(folder / "audit")
    state["audit_verify"] = "OK" if verdict.ok else f"BROKEN at {verdict.problem}"
    state["audit_records"] = verdict.records
{%- endif %}
    return state


def _state_problems(state: dict[str, Any]) -> list[str]:
    problems = []
    if state["torn_lines"]:
        problems.append(f"{state['torn_lines']} torn prediction-log line(s)")
{%- if cookiecutter|layer_enabled("governance") %}
    if state["audit_verify"] != "OK":
        problems.append(f"audit log {state['audit_verify']}")
{%- endif %}
    return problems


def _bodies() -> list[tuple[str, object, int]]:
    """(path, body, rows) to cycle through: single customers, and every few a batch."""
    rows = contract_rows(256)
    bodies: list[tuple[str, object, int]] = []
    for index, row in enumerate(rows):
        if index % BATCH_EVERY == BATCH_EVERY - 1:
            batch = rows[index : index + BATCH_ROWS]
            bodies.append(("/predict/batch", {"customers": batch}, len(batch)))
        else:
            bodies.append(("/predict", row, 1))
    return bodies


async def _load_until_killed(
    server: Server, process: ServerProcess, bodies: list, kill_after: int, concurrency: int
) -> Sent:
    sent = Sent()
    killed = asyncio.Event()
    clients = [
        asyncio.create_task(_client(server, bodies, n, sent, killed)) for n in range(concurrency)
    ]
    while len(sent.answered) < kill_after and not all(c.done() for c in clients):
        await asyncio.sleep(0.005)
    process.kill9()  # mid-load: every client has a request in flight
    killed.set()
    await asyncio.gather(*clients)
    return sent


async def _client(
    server: Server, bodies: list, client: int, sent: Sent, killed: asyncio.Event
) -> None:
    """Sends until the kill; the request in flight then fails, as it should."""
    number = 0
    try:
        connection = await asyncio.open_connection(server.host, server.port)
    except OSError as error:
        sent.failed[type(error).__name__] += 1
        return
    while not killed.is_set():
        path, body, rows = bodies[(client * 7 + number) % len(bodies)]
        request_id = f"c{client}-{number}"
        number += 1
        sent.sent += 1
        request = http_request(server, "POST", path, body, {"X-Request-ID": request_id})
        try:
            answer = await exchange(*connection, request)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            sent.failed[type(error).__name__] += 1
            break  # the server is gone: the kill came while this request was in flight
        if answer.status == 200:
            sent.answered[request_id] = rows
        else:
            sent.failed[f"HTTP {answer.status}"] += 1
    connection[1].close()


async def _after_restart(server: Server, bodies: list) -> Sent:
    sent = Sent()
    connection = await asyncio.open_connection(server.host, server.port)
    for number in range(AFTER_RESTART):
        path, body, rows = bodies[number]
        request_id = f"after-restart-{number}"
        sent.sent += 1
        headers = {"X-Request-ID": request_id}
        answer = await exchange(*connection, http_request(server, "POST", path, body, headers))
        if answer.status == 200:
            sent.answered[request_id] = rows
    connection[1].close()
    return sent


def _check(
    folder: Path,
    sent: Sent,
    after: Sent,
    concurrency: int,
    seconds_to_kill: float,
    seconds_to_restart: float,
) -> CrashReport:
    predictions = read_predictions(folder / "predictions")
    logged = Counter(record.get("request_id") for record in predictions.records)
    answered = {**sent.answered, **after.answered}
    missing_predictions = sorted(rid for rid, rows in answered.items() if logged[rid] != rows)
    problems = []
    if predictions.torn:
        problems.append(f"{predictions.torn} prediction-log line(s) do not parse")
    if missing_predictions:
        problems.append(f"{len(missing_predictions)} answered request(s) lack prediction records")
    if len(after.answered) < AFTER_RESTART:
        problems.append(f"only {len(after.answered)}/{AFTER_RESTART} answered after the restart")
    if unexpected := {k: n for k, n in sent.failed.items() if k.startswith("HTTP")}:
        problems.append(f"error answers before the kill: {unexpected}")
{%- if cookiecutter|layer_enabled("governance") %}
    verdict = verify_audit(folder / "audit")
    audited = _audited(folder / "audit")
    missing_audit = sorted(rid for rid, rows in answered.items() if audited[rid] != rows)
    if not verdict.ok:
        problems.append(f"the audit chain is broken: {verdict.problem}")
    if missing_audit:
        problems.append(f"{len(missing_audit)} answered request(s) lack audit records")
{%- endif %}
    return CrashReport(
        concurrency=concurrency,
        requests_sent=sent.sent,
        answered_200=len(sent.answered),
        unanswered_at_kill=dict(sent.failed),
        seconds_to_kill=round(seconds_to_kill, 2),
        seconds_to_restart=round(seconds_to_restart, 2),
        prediction_records=len(predictions.records),
        torn_lines=predictions.torn,
        missing_predictions=missing_predictions[:20],
{%- if cookiecutter|layer_enabled("governance") %}
        audit_records=verdict.records,
        audit_verify="OK" if verdict.ok else f"BROKEN at {verdict.problem}",
        missing_audit=missing_audit[:20],
{%- endif %}
        after_restart_200=len(after.answered),
        problems=problems,
    )
{%- if cookiecutter|layer_enabled("governance") %}


def _audited(folder: Path) -> Counter:
    """Audit records per request id (a line that is no record is the verdict's business)."""
    found: Counter = Counter()
    for line in read_lines(folder):
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            found[json.loads(line.text)["payload"].get("request_id")] += 1
    return found
{%- endif %}
