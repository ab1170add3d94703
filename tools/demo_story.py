"""`make demo`'s story on a stage-4 project, on its embedded defaults (SQLite MLflow, local DVC).

Run with the project's own Python (its .venv), from anywhere:

    demo/customer-churn/.venv/bin/python tools/demo_story.py demo/customer-churn

Steps, each announced by a numbered line; the tools print their own output and progress bars:

 1. make run: data, validation, training, evaluation, registration of @champion (DVC pipeline)
 2. the prediction server (`serve`, 127.0.0.1, a free port, its own process group, a one-off
    admin token so it can be told to reload), started and waited for until /ready
 3. traffic as usual: REQUESTS real POST /predict calls with held-out customers
 4. drift injected: `generate --drift` writes a labelled batch of changed customers, and
    DRIFTED_REQUESTS of them are sent to the server; all of it lands in the prediction log
    (five drifted to one calm by default: the generator moves 6 of 19 columns and the drift
    job flags the dataset from 5, monitoring.drift_share 0.25; a log of half calm traffic
    shows 4, three to one barely 5, five to one 6, the fifth well over the column threshold)
 5. detection: `drift --current <prediction log>` must find dataset drift (exit 3)
 6. continuous training: `ct` checks the log again, retrains on the labelled batch, registers a
    @challenger, and the gate promotes or rejects it; a promotion reloads the running server
 7. the server is asked which version it serves (GET /model), the champion's model card fetched
 8. the server is stopped (its whole process group; always, also after a failed step)
 9. a summary: champion before and after, the gate's verdict and reason, the drift share, the
    served version, and where to look. Exit 1 when a step failed.

The environment is the project's defaults: MLFLOW_TRACKING_URI and the project's own
<PREFIX>_* settings from the calling shell are left out. Nothing here is part of the project.
"""

import argparse
import http.client
import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

STEPS = 9
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1"}
EXIT_DRIFT = 3
#: Not passed on: a tracking server of the caller's, another venv, `make demo`'s own make flags.
LEFT_OUT = frozenset({"MLFLOW_TRACKING_URI", "VIRTUAL_ENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"})


def bold(text: str, colour: str = "1") -> str:
    """``text`` in bold (or another SGR colour) on a terminal, plain in a log."""
    return f"\033[{colour}m{text}\033[0m" if sys.stdout.isatty() else text


class StepFailed(RuntimeError):
    """A step did not do what the story needs; the message says what happened."""


@dataclass
class Story:
    project: Path
    package: str
    env: dict[str, str]
    facts: dict[str, str] = field(default_factory=dict)
    answered: int = 0
    failed: str | None = None
    number: int = 0

    def step(self, title: str) -> None:
        self.number += 1
        print(f"\n{bold(f'[{self.number}/{STEPS}] {title}')}", flush=True)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """The project's CLI, its output straight to the terminal (progress bars included)."""
        command = [sys.executable, "-m", self.package, *args]
        print("$ python -m " + shlex.join([self.package, *args]), flush=True)
        environment = {**self.env, **(env or {})}
        return subprocess.run(command, cwd=self.project, env=environment, check=False)

    def rel(self, path: Path) -> str:
        inside = path.is_relative_to(self.project)
        return str(path.relative_to(self.project)) if inside else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path, help="A generated project at stage 4.")
    parser.add_argument("--requests", type=int, default=200, help="Requests before the drift.")
    parser.add_argument("--drifted-requests", type=int, default=1000, help="Requests after it.")
    parser.add_argument("--batch-rows", type=int, default=20_000, help="Rows of the drifted batch.")
    parser.add_argument("--drift", type=float, default=1.0, help="Drift to inject, 0-1.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the drifted batch.")
    args = parser.parse_args(argv)
    project = args.project.resolve()
    package = json.loads((project / ".template.json").read_text())["answers"]["package_name"]
    sys.path.insert(0, str(project / "src"))  # the package, installed (-e) or not
    story = Story(project, package, _environment(project, package))
    os.environ.clear()  # the server (started by the project's own ServerProcess) inherits it
    os.environ.update(story.env)
    started = time.monotonic()
    server = None
    try:
        _train_and_register(story)
        server = _start_server(story)
        _send_traffic(story, server, args.requests)
        _inject_drift(story, server, args)
        _detect_drift(story)
        _continuous_training(story, server, args)
        _check_server(story, server)
    except StepFailed as error:
        story.failed = f"step {story.number} failed: {error}"
    except Exception as error:  # the server must stop and the summary say which step broke
        story.failed = f"step {story.number} failed: {type(error).__name__}: {error}"
    finally:
        _stop_server(story, server)
    _summary(story, time.monotonic() - started)
    return 1 if story.failed else 0


def _environment(project: Path, package: str) -> dict[str, str]:
    prefix = package.upper() + "_"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(prefix) and name not in LEFT_OUT
    }
    source = str(project / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return {**env, **QUIET_ENV}


def _train_and_register(story: Story) -> None:
    story.step(
        "Train and register the champion: make run (ingest -> prepare -> train -> "
        "evaluate -> register)"
    )
    print(f"$ make -C {story.project} run", flush=True)
    done = subprocess.run(["make", "-C", str(story.project), "run"], env=story.env, check=False)
    if done.returncode != 0:
        raise StepFailed(f"make run exited with {done.returncode}")
    registered = json.loads((story.project / "reports" / "registered.json").read_text())
    metrics = json.loads((story.project / "reports" / "metrics.json").read_text())
    story.facts["model"] = registered["name"]
    story.facts["champion_before"] = str(registered["version"])
    story.facts["roc_auc_before"] = f"{metrics['roc_auc']:.4f}"
    print(
        f"registered {registered['name']} version {registered['version']} as "
        f"@{registered['alias']}, ROC-AUC {metrics['roc_auc']:.4f}"
    )


def _start_server(story: Story):
    story.step(f"Serve the champion: python -m {story.package} serve (127.0.0.1, a free port)")
    server_module = __import__(f"{story.package}.reliability.server", fromlist=["ServerProcess"])
    token = secrets.token_urlsafe(24)
    story.facts["admin_token"] = token
    process = server_module.ServerProcess(
        story.project / "reports" / "demo",
        server_module.setting_overrides(serve_admin_token=token),
        cwd=story.project,
    )
    server = process.start()  # waits for /ready; ServerError with the log's tail otherwise
    story.facts["url"] = server.url
    story.facts["server_log"] = story.rel(process.log_path)
    _, model = server.get("/model")
    print(
        f"ready at {server.url} (pid {server.pid}), serving {model.get('name')} version "
        f"{model.get('version')}; log {process.log_path}"
    )
    return process


def _customers(story: Story, table: Path, rows: int) -> list[dict]:
    """Customers as a client sends them: the contract's input columns, typed, blanks as null."""
    import pandas as pd

    schema = __import__(f"{story.package}.core.schema", fromlist=["INPUT_COLUMNS"])
    validation = __import__(f"{story.package}.core.validation", fromlist=["validate_customers"])
    if table.suffix == ".parquet":
        raw = pd.read_parquet(table).head(rows * 2).astype("string")
    else:
        raw = pd.read_csv(table, dtype=str, keep_default_na=False, nrows=rows * 2)
    typed = validation.validate_customers(raw, require_target=False).valid
    return json.loads(typed[list(schema.INPUT_COLUMNS)].head(rows).to_json(orient="records"))


def _post_all(story: Story, process, customers: list[dict], label: str) -> dict[str, int]:
    """POST /predict once per customer on one keep-alive connection; versions that answered."""
    from tqdm.auto import tqdm

    parts = urlsplit(process.server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    versions: dict[str, int] = {}
    try:
        for customer in tqdm(customers, desc=label, unit="req"):
            body = json.dumps(customer)
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            data = answer.read()
            if answer.status != 200:
                raise StepFailed(f"POST /predict answered {answer.status}: {data[:300]!r}")
            version = answer.getheader("X-Model-Version", "?")
            versions[version] = versions.get(version, 0) + 1
            story.answered += 1
    finally:
        connection.close()
    return versions


def _send_traffic(story: Story, process, requests: int) -> None:
    story.step(f"Traffic as usual: {requests} POST /predict requests with held-out customers")
    test_tables = sorted((story.project / "data" / "processed").glob("test.*"))
    if not test_tables:
        raise StepFailed("no test split in data/processed/ (make run should have written it)")
    customers = _customers(story, test_tables[0], requests)
    versions = _post_all(story, process, customers, "traffic")
    story.facts["calm_requests"] = str(sum(versions.values()))
    print(f"{sum(versions.values())} answered (HTTP 200), by model version: {versions}")


def _inject_drift(story: Story, process, args: argparse.Namespace) -> None:
    story.step(
        f"Inject drift: generate --drift {args.drift} (a labelled batch of changed "
        f"customers), then {args.drifted_requests} requests with them"
    )
    batch = story.project / "data" / "incoming" / "drifted.csv"
    generated = story.cli(
        "generate",
        "--rows",
        str(args.batch_rows),
        "--drift",
        str(args.drift),
        "--seed",
        str(args.seed),
        "--output",
        story.rel(batch),
    )
    if generated.returncode != 0:
        raise StepFailed(f"generate exited with {generated.returncode}")
    story.facts["batch"] = story.rel(batch)
    versions = _post_all(story, process, _customers(story, batch, args.drifted_requests), "drifted")
    story.facts["drifted_requests"] = str(sum(versions.values()))
    print(f"{sum(versions.values())} answered (HTTP 200), by model version: {versions}")


def _log_folder(story: Story) -> Path:
    return story.project / "logs" / "predictions"


def _detect_drift(story: Story) -> None:
    log = _log_folder(story)
    story.step(f"Detect drift: drift --current {story.rel(log)} (the server's prediction log)")
    rows = sum(len(path.read_bytes().splitlines()) for path in log.glob("predictions-*.jsonl"))
    story.facts["logged"] = str(rows)
    print(f"prediction log: {rows:,} rows in {log}")
    checked = story.cli("drift", "--current", story.rel(log))
    summary = json.loads((story.project / "reports" / "drift" / "summary.json").read_text())
    story.facts["drift"] = (
        f"{summary['number_of_drifted_columns']} of {summary['number_of_columns']} columns "
        f"drifted (share {summary['drift_share']:.2f}, threshold "
        f"{summary['drift_share_threshold']:.2f})"
    )
    story.facts["drift_exit"] = str(checked.returncode)
    if checked.returncode != EXIT_DRIFT:
        raise StepFailed(f"drift exited with {checked.returncode}, not {EXIT_DRIFT} (drift found)")


def _continuous_training(story: Story, process, args: argparse.Namespace) -> None:
    log = _log_folder(story)
    story.step(
        f"Continuous training: ct --current {story.rel(log)} --data {story.facts['batch']} "
        f"(retrain, gate, reload the server)"
    )
    prefix = story.package.upper() + "_"
    told = {
        f"{prefix}SERVE_URL": process.server.url,
        f"{prefix}SERVE_ADMIN_TOKEN": story.facts["admin_token"],
    }
    before = set((story.project / "runs").glob("ct-*"))
    done = story.cli(
        "ct",
        "--current",
        story.rel(log),
        "--data",
        story.facts["batch"],
        "--actor",
        "make demo",
        env=told,
    )
    runs = sorted(set((story.project / "runs").glob("ct-*")) - before)
    if done.returncode != 0:
        raise StepFailed(f"ct exited with {done.returncode} (4: promoted, the server not reloaded)")
    if not runs or not (runs[-1] / "reports" / "promotion.json").is_file():
        raise StepFailed("ct ran but wrote no promotion.json (no drift found, nothing retrained?)")
    promotion_json = runs[-1] / "reports" / "promotion.json"
    record = json.loads(promotion_json.read_text())
    story.facts["promotion"] = story.rel(promotion_json)
    story.facts["ct_drift_report"] = story.rel(runs[-1] / "reports" / "drift" / "report.html")
    story.facts["decision"] = record["decision"]
    failed = [reason for reason in record["reasons"] if reason.startswith("failed")]
    story.facts["reason"] = (failed or record["reasons"])[0]
    story.facts["challenger"] = str(record["challenger_version"])
    new = record["challenger_version"] if record["promote"] else record["champion_version"]
    story.facts["champion_after"] = str(new)


def _check_server(story: Story, process) -> None:
    story.step("Ask the server what it serves (GET /model) and fetch the champion's model card")
    status, model = process.server.get("/model")
    if status != 200:
        raise StepFailed(f"GET /model answered {status}")
    story.facts["served"] = str(model.get("version"))
    print(f"GET /model: {json.dumps(model)}")
    card = story.cli("model-card")
    version = story.facts["champion_after"]
    cards = sorted((story.project / "reports" / "governance").glob(f"*-v{version}/model_card.html"))
    if card.returncode != 0 or not cards:
        raise StepFailed(f"model-card exited with {card.returncode}, no card for version {version}")
    story.facts["model_card"] = story.rel(cards[0])
    if story.facts["served"] != version:
        raise StepFailed(
            f"the server serves version {story.facts['served']}, the registry's "
            f"champion is version {version}"
        )


def _stop_server(story: Story, process) -> None:
    if story.failed is not None:
        print(f"\n{bold(story.failed, '31')}", flush=True)
    story.number = STEPS - 2
    story.step("Stop the server (SIGTERM to its process group)")
    if process is not None and process.process is not None:
        code = process.stop()
        print(f"server stopped (exit code {code}); its log: {process.log_path}")


def _summary(story: Story, seconds: float) -> None:
    facts, project = story.facts, story.project
    get = facts.get
    print(f"\n{bold(f'[{STEPS}/{STEPS}] Summary')}")
    lines = [
        ("project", str(project)),
        (
            "champion before",
            f"{get('model', '?')} version {get('champion_before', '?')} "
            f"(ROC-AUC {get('roc_auc_before', '?')} on its test split)",
        ),
        (
            "traffic",
            f"{story.answered} predictions answered over HTTP ({get('calm_requests', 0)} "
            f"as usual, {get('drifted_requests', 0)} drifted), "
            f"{get('logged', '?')} rows in logs/predictions/",
        ),
        ("drift", f"{get('drift', 'not checked')}, exit {get('drift_exit', '-')}"),
        (
            "gate",
            f"{get('decision', 'not reached').upper()} challenger version "
            f"{get('challenger', '?')}: {get('reason', '-')}",
        ),
        ("champion after", f"version {get('champion_after', '?')}"),
        ("server", f"serves version {get('served', '?')} (GET /model at {get('url', '-')})"),
    ]
    for label, text in lines:
        print(f"  {label:<16} {text}")
    print("Where to look")
    where = [
        ("MLflow UI", f"make -C {project} mlflow-ui   (then http://127.0.0.1:5000)"),
        ("drift report", f"{project / 'reports' / 'drift' / 'report.html'}"),
        ("ct drift report", str(project / get("ct_drift_report", "runs/ct-*/reports/drift"))),
        ("promotion", str(project / get("promotion", "runs/ct-*/reports/promotion.json"))),
        ("model card", str(project / get("model_card", "reports/governance/"))),
        ("metrics", str(project / "reports" / "metrics.json")),
        ("server log", str(project / get("server_log", "reports/demo/server.log"))),
    ]
    for label, text in where:
        print(f"  {label:<16} {text}")
    verdict = f"FAILED ({story.failed})" if story.failed else "OK"
    print(f"Demo story: {verdict} in {seconds:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
