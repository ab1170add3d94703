"""The prediction server against `mlflow models serve`, the same registered model, under wrk.

    make bench     (all benchmarks; this one: .venv/bin/python benchmarks/serving.py [--seconds 5])

Bakes a project with every built layer (serving among them), trains and registers a small
model, then starts one server process at a time on 127.0.0.1: ours (`<package> serve`, the
prediction log on, as in production) and then the peer, `mlflow models serve --workers 1` on
`models:/<slug>@champion`. Each is warmed up, then loaded with wrk (one thread) for single rows
at 1 and 8 connections and 1000-row batches at 1. Prints a Markdown table, the ratios against
mlflow and the issue's targets (single-row throughput >= 20x mlflow's, p99 <= 1/10 of mlflow's,
batch scoring >= 200,000 rows/s) as met / not met. Exits non-zero only when a server does not
start, answers wrongly, or a run has non-2xx responses or socket errors; never on a target.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _report import check_output, met, table

from conftest import QUIET_ENV, WIDEST, bake_ok, locked_python  # the template tests' helpers

PACKAGE = "customer_churn"
SLUG = "customer-churn"
BATCH_ROWS = 1000
CONCURRENCY = (1, 8)
#: Targets from the issue: ours / mlflow.
THROUGHPUT_TARGET, P99_TARGET, BATCH_TARGET = 20.0, 0.1, 200_000
#: Runs in the project venv: the test split's first rows, the contract's input columns only.
PAYLOAD = f"""
import pandas as pd, sys
from {PACKAGE}.core.schema import INPUT_COLUMNS
from {PACKAGE}.settings import Settings
path = Settings().test_table
frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
sys.stdout.write(frame.head({BATCH_ROWS})[list(INPUT_COLUMNS)].to_json(orient="records"))
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class Result:
    server: str
    route: str
    rows: int
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rows_per_s(self) -> float:
        return self.requests_per_s * self.rows


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    if WIDEST.get("layer_serving") != "on":
        sys.exit("the serving layer is not built yet (layers.json): nothing to measure")
    started = time.perf_counter()
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other work skews the figures)")
    scratch = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        results, agreement = run_all(scratch, args)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    report(results, agreement)
    print(f"\nwhole benchmark: {time.perf_counter() - started:.0f} s")
    failed = [r for r in results if r.non_2xx or r.socket_errors]
    if failed:
        names = ", ".join(f"{r.server} {r.route} c={r.connections}" for r in failed)
        sys.exit(f"runs with non-2xx responses or socket errors: {names}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=int, default=5, help="wrk duration of each measured run (default 5)"
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=20_000,
        help="synthetic rows to train on (default 20000; at least 6000, so the test split "
        f"holds the {BATCH_ROWS}-row batch)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (project, server logs)"
    )
    args = parser.parse_args()
    if args.seconds < 1 or args.rows < 6000:
        parser.error("--seconds must be >= 1 and --rows >= 6000")
    return args


def run_all(scratch: Path, args: argparse.Namespace) -> tuple[list[Result], float]:
    # Every built layer: the venv the template tests use (locked_python reuses it as is).
    project = bake_ok(scratch / "out", git_init="no", **WIDEST)
    python = locked_python(project)
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(project / "src")}
    config = scratch / "pipeline.yaml"
    config.write_text(json.dumps({"synthetic": {"rows": args.rows}}))  # JSON is YAML
    seconds = timed_run(
        [python, "-m", PACKAGE, "run", "--register", "--quiet", "--config", config], project, env
    )
    print(f"train + register on {args.rows:,} rows: {seconds:.1f} s", flush=True)
    records = json.loads(check_output([python, "-c", PAYLOAD], project, env))
    if len(records) != BATCH_ROWS:
        sys.exit(f"the test split has {len(records)} rows, not {BATCH_ROWS}: raise --rows")
    bodies = write_scripts(scratch, records)

    results = []
    ours_env = {
        **env,
        f"{PACKAGE.upper()}_MLFLOW_DIR": str(project / "mlflow"),
        f"{PACKAGE.upper()}_PREDICTION_LOG_DIR": str(scratch / "logs"),
    }
    command = [python, "-m", PACKAGE, "serve", "--port", "{port}"]
    with Server("ours", command, project, ours_env, "/ready", scratch) as ours:
        ours_scores = check_answers(ours, bodies, ["/predict", "/predict/batch", "/invocations"])
        results += measure(ours, "/predict", "single", bodies, args.seconds)
        results += measure(ours, "/invocations", "single-mlflow", bodies, args.seconds)
        results += measure(ours, "/predict/batch", "batch", bodies, args.seconds)
        results += measure(ours, "/invocations", "batch-mlflow", bodies, args.seconds)
    logged = sum(f.stat().st_size for f in (scratch / "logs").rglob("*") if f.is_file())
    print(f"ours: the prediction log wrote {logged / 2**20:,.0f} MiB", flush=True)

    mlflow_env = {
        **env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow' / 'mlflow.db'}",
        "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}",  # mlflow execs uvicorn
    }
    command = [
        python.parent / "mlflow", "models", "serve", "-m", f"models:/{SLUG}@champion",
        "--env-manager", "local", "-h", "127.0.0.1", "-p", "{port}", "--workers", "1",
    ]  # fmt: skip
    with Server("mlflow", command, project, mlflow_env, "/ping", scratch) as peer:
        peer_scores = check_answers(peer, bodies, ["/invocations"])
        results += measure(peer, "/invocations", "single-mlflow", bodies, args.seconds)
        results += measure(peer, "/invocations", "batch-mlflow", bodies, args.seconds)
    agreement = max(abs(a - b) for a, b in zip(ours_scores, peer_scores, strict=True))
    return results, agreement


def timed_run(command: list, cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    check_output(command, cwd, env)
    return time.perf_counter() - start


def write_scripts(scratch: Path, records: list[dict]) -> dict[str, tuple[Path, bytes, int]]:
    """One wrk Lua script per payload: name -> (script, body, rows)."""
    payloads = {
        "single": (records[0], 1),
        "single-mlflow": ({"dataframe_records": records[:1]}, 1),
        "batch": ({"customers": records}, BATCH_ROWS),
        "batch-mlflow": ({"dataframe_records": records}, BATCH_ROWS),
    }
    bodies = {}
    for name, (document, rows) in payloads.items():
        body = json.dumps(document, separators=(",", ":"))
        assert "]==]" not in body
        script = scratch / f"{name}.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n"
        )
        bodies[name] = (script, body.encode(), rows)
    return bodies


class Server:
    """One server process in its own process group, stopped (the whole group) on exit."""

    def __init__(self, name, command, cwd, env, ready_path, scratch, timeout=180.0):
        self.name, self.cwd, self.env, self.ready_path = name, cwd, env, ready_path
        self.port = free_port()
        self.command = [str(part).replace("{port}", str(self.port)) for part in command]
        self.log = scratch / f"{name}-server.log"
        self.timeout = timeout
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self) -> "Server":
        start = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        print(f"{self.name}: ready in {time.perf_counter() - start:.1f} s", flush=True)
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} server exited ({self.process.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        sys.exit(f"{self.name} server not ready after {self.timeout:.0f} s:\n{self.tail()}")

    def __exit__(self, *exc) -> None:
        self.stop()
        for error, count in log_errors(self.log).items():
            # wrk stops mid-request at the end of a run: a ClientDisconnect is that, not a fault.
            print(f"{self.name}: {count} x {error} in its log", flush=True)

    def stop(self) -> None:
        """SIGTERM the whole group, SIGKILL what is left after 10 s; reap the leader."""
        if self.process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and group_alive(self.process):
                time.sleep(0.1)
            if not group_alive(self.process):
                break
        self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def post(self, path: str, body: bytes) -> dict:
        request = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            sys.exit(f"{self.name} {path}: HTTP {error.code}: {error.read()[:2000]!r}")


def log_errors(log: Path) -> Counter:
    """The exception ending each traceback in a server log (the last of a chain), counted."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors: Counter = Counter()
    for start, line in enumerate(lines):
        if not line.startswith("Traceback"):
            continue
        end = next((i for i in range(start + 1, len(lines)) if not lines[i][0].isspace()), None)
        if end is None:
            continue
        after = lines[end + 1] if end + 1 < len(lines) else ""
        if not after.startswith(("The above exception", "During handling")):
            errors[lines[end][:160]] += 1
    return errors


def group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader, or the group never looks empty
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_answers(server: Server, bodies: dict, routes: list[str]) -> list[float]:
    """Every route answers each of its payloads with one score per row; the batch's scores."""
    scores = []
    for route in routes:
        names = {"/predict": ["single"], "/predict/batch": ["batch"]}.get(
            route, ["single-mlflow", "batch-mlflow"]
        )
        for name in names:
            _, body, rows = bodies[name]
            answer = server.post(route, body)
            if route == "/predict":
                got = [answer["churn_probability"]]
            elif route == "/predict/batch":
                got = answer["churn_probability"]
            else:  # MLflow's shape: [[p(stay), p(churn)], ...]
                got = [
                    pair[1] if isinstance(pair, list) else pair for pair in answer["predictions"]
                ]
            if len(got) != rows:
                sys.exit(f"{server.name} {route}: {len(got)} scores for {rows} rows")
            if route == "/invocations" and rows == BATCH_ROWS:
                scores = got
    return scores


def measure(server: Server, route: str, payload: str, bodies: dict, seconds: int) -> list:
    script, _, rows = bodies[payload]
    levels = CONCURRENCY if rows == 1 else (1,)
    wrk(server, route, script, max(levels), 1)  # warm-up, not reported
    results = []
    for connections in levels:
        figures = wrk(server, route, script, connections, seconds)
        results.append(Result(server.name, route, rows, connections, *figures))
        print(f"  {server.name:<6} {route:<15} rows={rows:<5} c={connections}: "
              f"{figures[0]:,.0f} req/s", flush=True)  # fmt: skip
    return results


def wrk(server: Server, route: str, script: Path, connections: int, seconds: int) -> tuple:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
        "-s", str(script), server.url + route,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        sys.exit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """Requests/sec, p50 and p99 in ms, non-2xx responses, socket errors."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50, p99 = (latency_ms(output, percent) for percent in ("50", "99"))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    return rate, p50, p99, int(non_2xx.group(1)) if non_2xx else 0, socket_errors


def latency_ms(output: str, percent: str) -> float:
    value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M).groups()
    return float(value) * UNITS[unit]


def report(results: list[Result], agreement: float) -> None:
    header = ["server", "route", "rows/request", "connections", "req/s", "rows/s", "p50 ms"]
    table(
        [*header, "p99 ms", "non-2xx", "socket errors"],
        "llrrrrrrrr",
        [
            [r.server, r.route, f"{r.rows:,}", str(r.connections), f"{r.requests_per_s:,.0f}",
             f"{r.rows_per_s:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.non_2xx),
             str(r.socket_errors)]
            for r in results
        ],
    )  # fmt: skip
    by = {(r.server, r.route, r.rows, r.connections): r for r in results}

    ratios, targets = [], []
    for route in ("/predict", "/invocations"):
        for c in CONCURRENCY:
            ours, peer = by["ours", route, 1, c], by["mlflow", "/invocations", 1, c]
            speed, p99 = ours.requests_per_s / peer.requests_per_s, ours.p99_ms / peer.p99_ms
            ratios.append(
                [f"ours {route}", str(c), f"{speed:.1f}x", f"{p99:.3f} (1/{1 / p99:.0f})"]
            )
            name = f"{route}, single row, c={c}"
            targets.append(
                [f"throughput >= {THROUGHPUT_TARGET:.0f}x mlflow's: {name}", f"{speed:.1f}x",
                 met(speed >= THROUGHPUT_TARGET)]
            )  # fmt: skip
            targets.append(
                [f"p99 <= 1/{1 / P99_TARGET:.0f} of mlflow's: {name}",
                 f"{ours.p99_ms:.2f} vs {peer.p99_ms:.2f} ms (1/{1 / p99:.0f})",
                 met(p99 <= P99_TARGET)]
            )  # fmt: skip
    table(["ours / mlflow /invocations, single row", "connections", "req/s ratio", "p99 ratio"],
          "lrrr", ratios)  # fmt: skip

    peer = by["mlflow", "/invocations", BATCH_ROWS, 1]
    batches = []
    for server, route in (
        ("ours", "/predict/batch"),
        ("ours", "/invocations"),
        ("mlflow", "/invocations"),
    ):
        r = by[server, route, BATCH_ROWS, 1]
        batches.append([f"{server} {route}", f"{r.rows_per_s:,.0f}",
                        f"{r.rows_per_s / peer.rows_per_s:.1f}x"])  # fmt: skip
        if server == "ours":
            measured, ok = f"{r.rows_per_s:,.0f} rows/s", r.rows_per_s >= BATCH_TARGET
            targets.append(
                [f"batch scoring >= {BATCH_TARGET:,} rows/s: {route}", measured, met(ok)]
            )
    table([f"{BATCH_ROWS:,}-row batches, c=1", "rows/s", "ratio to mlflow"], "lrr", batches)
    print(f"\nlargest score difference, ours vs mlflow on the {BATCH_ROWS:,}-row batch: "
          f"{agreement:.2g}")  # fmt: skip
    table(["target (from the issue)", "measured", "result"], "lrl", targets)


if __name__ == "__main__":
    main()
