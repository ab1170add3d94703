"""Fuzz every route of the server from its own OpenAPI document, over real HTTP.

Schemathesis turns each operation of ``/openapi.json`` into a Hypothesis strategy of requests:
positive cases follow the schema, negative ones break it. Each case is sent as it is and its
answer checked: no 5xx, no stack trace or exception text in the body, and every error in the
project's JSON shape ``{"error": {"code", "message"}, "request_id"}``. Cases are counted as they
are sent, per operation and status, so the report says what ran; operations with little to vary
(no parameters) take a case or two and the rest of the budget goes to the others, in rounds with
a new seed, until at least ``cases`` were sent.

Schemathesis is a dev dependency: this module imports it when a fuzz run starts.
"""

import contextlib
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm import tqdm

from .server import Server, ServerError

#: Text that only a leaked stack trace or exception puts in a body.
LEAKS = ("Traceback (most recent call last)", 'File "', "Exception:", "Error:\n")
MAX_ROUNDS = 20
MAX_FAILURES_KEPT = 20
REQUEST_TIMEOUT = 60.0  # a reload case loads and self-checks a model


@dataclass
class Failure:
    operation: str
    problem: str
    status: int
    reproducer: str
    body: str


@dataclass
class FuzzReport:
    url: str
    seed: int
    cases: int
    #: "POST /predict" -> {"cases": n, "statuses": {"200": n, "422": n}}
    operations: dict[str, dict[str, Any]]
    failure_count: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure_count == 0 and self.cases > 0

    def statuses(self) -> Counter:
        return sum((Counter(op["statuses"]) for op in self.operations.values()), Counter())

    def to_dict(self) -> dict:
        return {**asdict(self), "statuses": dict(self.statuses()), "ok": self.ok}

    def lines(self) -> list[str]:
        width = max(map(len, self.operations), default=10)
        rows = [f"{'operation':<{width}}  cases  statuses"]
        for label, result in self.operations.items():
            statuses = " ".join(f"{s}:{n}" for s, n in sorted(result["statuses"].items()))
            rows.append(f"{label:<{width}}  {result['cases']:>5}  {statuses}")
        rows.append(f"{self.cases:,} cases (seed {self.seed}) against {self.url}")
        if self.ok:
            return [*rows, "OK: no 5xx, no stack trace, every error in the JSON error shape"]
        rows.append(f"FAILED: {self.failure_count} case(s); the first ones, to reproduce:")
        for failure in self.failures:
            rows += [f"- {failure.operation}: {failure.problem}", f"  {failure.reproducer}"]
        return rows


def problem_with(status: int, body: bytes) -> str | None:
    """What is wrong with an answer, or None: a 5xx, a leaked trace, a non-JSON error."""
    text = body.decode("utf-8", errors="replace")
    if status >= 500:
        return f"server error {status}"
    if leaked := next((leak for leak in LEAKS if leak in text), None):
        return f"the body shows exception text ({leaked.strip()!r})"
    if status >= 400 and not _is_error_shape(body):
        return f"a {status} whose body is not the JSON error shape"
    return None


def _is_error_shape(body: bytes) -> bool:
    try:
        document = json.loads(body)
    except ValueError:
        return False
    error = document.get("error") if isinstance(document, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and "request_id" in document
    )


class _Fuzzer:
    """Sends cases of one run and keeps the counts and failures."""

    def __init__(self, server: Server, headers: dict[str, str], bar: tqdm):
        import requests

        self.server, self.headers, self.bar = server, headers, bar
        self.session = requests.Session()
        self.operations: dict[str, dict[str, Any]] = {}
        self.failures: list[Failure] = []
        self.failure_count = 0

    def send(self, label: str, case) -> None:
        response = case.call(
            base_url=self.server.url,
            session=self.session,
            headers=self.headers,
            timeout=REQUEST_TIMEOUT,
        )
        result = self.operations.setdefault(label, {"cases": 0, "statuses": Counter()})
        result["cases"] += 1
        result["statuses"][str(response.status_code)] += 1
        self.bar.update()
        content = response.content or b""
        if problem := problem_with(response.status_code, content):
            self._fail(label, problem, response.status_code, case, content)

    def _fail(self, label: str, problem: str, status: int, case, content: bytes) -> None:
        self.failure_count += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            hidden = dict.fromkeys(self.headers, "***")  # the report keeps no secret
            reproducer = case.as_curl_command(headers=hidden, base_url=self.server.url)
            body = content.decode("utf-8", errors="replace")[:500]
            self.failures.append(Failure(label, problem, status, reproducer, body))


def run(
    server: Server,
    cases: int = 2000,
    seed: int = 0,
    headers: dict[str, str] | None = None,
    progress: bool = True,
) -> FuzzReport:
    """At least ``cases`` generated requests over every operation; the report lists failures."""
    import schemathesis

    try:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", timeout=30)
    except schemathesis.errors.LoaderError as error:
        raise ServerError(f"cannot read {server.url}/openapi.json: {error}") from None
    strategies = _strategies(schema, _known_path_values(server))
    with tqdm(total=cases, unit="case", desc="fuzz", disable=not progress) as bar:
        fuzzer = _Fuzzer(server, headers or {}, bar)
        sent, open_ = 0, strategies
        for round_ in range(MAX_ROUNDS):
            if sent >= cases or not open_:
                break
            share = math.ceil((cases - sent) / len(open_))
            still_open = []
            for label, strategy in open_:
                done = _fuzz(fuzzer, label, strategy, share, seed + round_)
                sent += done
                if done >= share:  # it may have more to give
                    still_open.append((label, strategy))
            open_ = still_open
    operations = {
        label: {"cases": result["cases"], "statuses": dict(result["statuses"])}
        for label, result in sorted(fuzzer.operations.items())
    }
    return FuzzReport(server.url, seed, sent, operations, fuzzer.failure_count, fuzzer.failures)


def _known_path_values(server: Server) -> dict[str, str]:
    """Path parameters worth fixing in positive cases: the served model's name (a random name
    only ever reaches the 404 branch)."""
    status, model = server.get("/model")
    return {"name": str(model["name"])} if status == 200 and "name" in model else {}


def _strategies(schema, known: dict[str, str]) -> list[tuple[str, Any]]:
    """(label, strategy) per operation and generation mode; positive cases also with the known
    path values, where the operation has such parameters."""
    from schemathesis import GenerationMode

    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        names = {parameter.name for parameter in operation.path_parameters}
        fixed = {name: value for name, value in known.items() if name in names}
        if fixed:
            strategy = operation.as_strategy(path_parameters=fixed)
            found.append((label, strategy))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found.append((label, operation.as_strategy(generation_mode=mode)))
    return found


def _fuzz(fuzzer: _Fuzzer, label: str, strategy, examples: int, seed: int) -> int:
    """Send up to ``examples`` cases of one strategy; how many were sent."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded
    from hypothesis.errors import Unsatisfiable

    sent = 0

    @seeded(seed)
    @settings(
        max_examples=examples,
        database=None,  # reproducible from the seed alone
        deadline=None,
        phases=[Phase.generate],  # failures are recorded, not raised: nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def send(case) -> None:
        nonlocal sent
        fuzzer.send(label, case)
        sent += 1

    with contextlib.suppress(Unsatisfiable):  # nothing to vary, or nothing left to negate
        send()
    return sent
