"""Prometheus metrics in the text exposition format, kept in plain dicts.

Written by hand rather than with prometheus_client: five series and a histogram do not need a
dependency, and recording one request costs a few dictionary updates.
"""

from bisect import bisect_left
from collections import Counter, defaultdict

PREFIX = "{{ cookiecutter.package_name }}"
#: Latency buckets in seconds: fine below a millisecond, where this server answers.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Request counts and latencies by route, errors by code, rows scored, the model served."""

    def __init__(self):
        self.requests: Counter = Counter()  # (route, method, status) -> count
        self.latency: defaultdict = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: defaultdict[str, float] = defaultdict(float)  # route -> seconds
        self.errors: Counter = Counter()  # code -> count
        self.rows_scored = 0
        self.reloads: Counter = Counter()  # outcome -> count
        self.model: dict[str, str] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[route, method, status] += 1
        self.latency[route][bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[route] += seconds

    def count_error(self, code: str) -> None:
        self.errors[code] += 1

    def render(self) -> str:
        lines = [
            *_family("requests_total", "counter", "HTTP requests answered."),
            *(
                _sample("requests_total", {"route": r, "method": m, "status": s}, n)
                for (r, m, s), n in sorted(self.requests.items())
            ),
            *_family("request_duration_seconds", "histogram", "Time to answer, by route."),
            *(line for route in sorted(self.latency) for line in self._histogram(route)),
            *_family("errors_total", "counter", "Error responses, by error code."),
            *(_sample("errors_total", {"code": c}, n) for c, n in sorted(self.errors.items())),
            *_family("rows_scored_total", "counter", "Customers scored."),
            _sample("rows_scored_total", {}, self.rows_scored),
            *_family("model_reloads_total", "counter", "Reload attempts, by outcome."),
            *(_sample("model_reloads_total", {"outcome": o}, n) for o, n in self.reloads.items()),
            *_family("model_info", "gauge", "The model being served (1), labelled with it."),
        ]
        if self.model:
            lines.append(_sample("model_info", self.model, 1))
        return "\n".join(lines) + "\n"

    def _histogram(self, route: str):
        running = 0
        for bound, count in zip((*BUCKETS, float("inf")), self.latency[route], strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            yield _sample("request_duration_seconds_bucket", {"route": route, "le": le}, running)
        yield _sample("request_duration_seconds_sum", {"route": route}, self.latency_sum[route])
        yield _sample("request_duration_seconds_count", {"route": route}, running)


def _family(name: str, kind: str, about: str) -> tuple[str, str]:
    return f"# HELP {PREFIX}_{name} {about}", f"# TYPE {PREFIX}_{name} {kind}"


def _sample(name: str, labels: dict, value: float) -> str:
    if not labels:
        return f"{PREFIX}_{name} {value}"
    escaped = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in labels.values())
    pairs = ",".join(f'{k}="{v}"' for k, v in zip(labels, escaped, strict=True))
    braced = "{" + pairs + "}"
    return f"{PREFIX}_{name}{braced} {value}"
