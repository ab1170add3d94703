"""The serving image built and run as production runs it, with governance on (stage 4) and off
(stage 3): non-root, read-only root filesystem, a tmpfs /tmp, only the image's declared volumes
writable, the exported model mounted read-only. Marked ``containers`` (make test-containers):
it needs a Docker engine, which tests/containers.py starts when none runs, and base images that
no registry serves here, which it builds from Debian packages (stand-ins, named in the output).

The compose file and the Kubernetes Deployment must mount exactly what the image declares, with
its user and a read-only root: checked statically for every bake, in the everyday loop.
"""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import containers
from conftest import bake_ok, free_port
from test_delivery import instructions
from test_stage2 import project_env

#: Stage 4 has governance (the audit log); stage 3 has the server without it.
STAGES = {"4": "governance-on", "3": "governance-off"}
ROWS = 50
#: Only guards against a hang: the server loads its model in seconds.
READY_SECONDS = 600
#: The first rows of the run's test table, typed as the model saw them, as JSON records.
TEST_ROWS = f"""
import sys
from {{package}}.core.schema import INPUT_COLUMNS
from {{package}}.io.datasets import read_customers
from {{package}}.settings import Settings
rows = read_customers(Settings().test_table)[list(INPUT_COLUMNS)].head({ROWS})
sys.stdout.write(rows.to_json(orient="records"))
"""
SMALL_RUN = {
    "synthetic": {"rows": 3_000},
    "evaluation": {"importance_rows": 200, "importance_repeats": 1},
}


def image_user_and_volumes(project: Path) -> tuple[str, set[str], dict[str, str]]:
    """What the serving Dockerfile declares: USER, VOLUME paths, and the *_LOG_DIR settings."""
    steps = instructions(project / "docker" / "serving.Dockerfile")
    (user,) = [rest for word, rest in steps if word == "USER"]
    (volumes,) = [json.loads(rest) for word, rest in steps if word == "VOLUME"]
    variables = [
        pair.split("=", 1) for word, rest in steps if word == "ENV" for pair in rest.split()
    ]
    settings = {name: value for name, value in variables if name.endswith("_LOG_DIR")}
    return user, set(volumes), settings


@pytest.mark.parametrize("stage", STAGES, ids=STAGES.values())
def test_compose_and_kubernetes_mount_exactly_what_the_image_declares(tmp_path, stage):
    project = bake_ok(tmp_path / "out", maturity_stage=stage, git_init="no")
    user, volumes, log_settings = image_user_and_volumes(project)
    compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]["serving"]
    deployment = yaml.safe_load((project / "deploy/k8s/base/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    kustomization = yaml.safe_load((project / "deploy/k8s/base/kustomization.yaml").read_text())
    (config,) = kustomization["configMapGenerator"]
    k8s_settings = dict(literal.split("=", 1) for literal in config["literals"])

    assert {mount.split(":")[1] for mount in compose["volumes"]} == volumes
    assert (compose["read_only"], compose["tmpfs"]) == (True, ["/tmp"])
    assert {mount["mountPath"] for mount in container["volumeMounts"]} == volumes | {"/tmp"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    context = pod["securityContext"]
    assert f"{context['runAsUser']}:{context['runAsGroup']}" == user
    assert set(log_settings.values()) == volumes  # every log on a volume, every volume a log
    assert {key: k8s_settings[key] for key in log_settings} == log_settings
    assert ("audit" in " ".join(volumes)) == (stage == "4")


@dataclass(frozen=True)
class Image:
    """A built serving image, its project, an exported model and real-schema rows to send."""

    tag: str
    label: str  # governance on or off
    project: Path
    volumes: set[str]
    model: Path
    rows: list[dict]
    python: Path  # the projects' venv (conftest.project_python), for the CLI on the host
    build_seconds: float
    size: int  # bytes
    bases: dict[str, str]  # each base image: what it is (a stand-in says so)

    @property
    def package(self) -> str:
        return self.project.name.replace("-", "_")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, project_python, engine) -> tuple[Path, list[dict]]:
    """A model trained on 3,000 synthetic Telco-schema rows, registered and exported by the
    stage-4 project's CLI; and 50 rows of its test table as a JSON client sends them."""
    folder = tmp_path_factory.mktemp("model")
    project = bake_ok(folder / "out", maturity_stage="4", git_init="no")
    package = project.name.replace("-", "_")
    prefix = package.upper() + "_"
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(SMALL_RUN))
    env = {
        **project_env(project_python, project),
        f"{prefix}CONFIG_PATH": str(folder / "pipeline.yaml"),
        **{
            f"{prefix}{name.upper()}": str(folder / name)
            for name in ("data_dir", "models_dir", "reports_dir", "mlflow_dir")
        },
    }

    def cli(*args: str) -> None:
        done = subprocess.run(
            [str(project_python), "-m", package, *args],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    cli("run", "--quiet", "--register")
    cli("export", "--to", str(folder / "exported"))
    rows = subprocess.run(
        [str(project_python), "-c", TEST_ROWS.format(package=package)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return folder / "exported", json.loads(rows.stdout)


@pytest.fixture(scope="module", params=STAGES, ids=STAGES.values())
def image(request, tmp_path_factory, exported, engine, project_python) -> Iterator[Image]:
    """The bake's serving image, built on the stand-in base, removed afterwards."""
    project = bake_ok(
        tmp_path_factory.mktemp("bake") / "out", maturity_stage=request.param, git_init="no"
    )
    bases = {}
    for standin in containers.base_images(project):
        containers.build_standin(standin)
        bases[standin.image] = containers.describe(standin.image)
    tag = f"{project.name}-serving:test-stage{request.param}"
    started = time.monotonic()
    build = containers.docker(
        "build",
        "--network",
        "host",
        "-f",
        "docker/serving.Dockerfile",
        "-t",
        tag,
        ".",
        cwd=project,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    build_seconds = time.monotonic() - started
    size = int(containers.docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)
    volumes = image_user_and_volumes(project)[1]
    label = STAGES[request.param]
    yield Image(tag, label, project, volumes, *exported, project_python, build_seconds, size, bases)
    containers.docker("image", "rm", "--force", tag, check=False)


def call(url: str, body: object | None = None, headers: dict | None = None) -> tuple[int, object]:
    """GET (or POST ``body`` as JSON) ``url`` with ``headers``: the status and the decoded
    answer."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data, headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    return status, json.loads(text) if text.startswith((b"{", b"[")) else text.decode()


@dataclass
class Running:
    id: str
    url: str
    seconds_to_answer: float

    def logs(self) -> str:
        found = containers.docker("logs", self.id, check=False)
        return (found.stdout + found.stderr)[-3000:]


@contextmanager
def served(
    image: Image, mounts: dict[str, str], read_only: frozenset[str] = frozenset()
) -> Iterator[Running]:
    """The image run as production runs it, ``mounts`` (container path: host folder; those in
    ``read_only`` mounted so) its only writable places besides /tmp; stopped and removed
    (volumes too) after."""
    port = free_port()
    prefix = image.package.upper() + "_"
    binds = [
        arg
        for target, source in mounts.items()
        for arg in ("-v", f"{source}:{target}{':ro' if target in read_only else ''}")
    ]
    started = time.monotonic()
    cid = containers.docker(
        "run",
        "--detach",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        "-p",
        f"127.0.0.1:{port}:8000",
        "-v",
        f"{image.model}:/model:ro",
        "-e",
        f"{prefix}SERVE_MODEL_DIR=/model",
        *binds,
        image.tag,
    ).stdout.strip()
    try:
        running = Running(cid, f"http://127.0.0.1:{port}", 0.0)
        deadline = started + READY_SECONDS
        while True:
            try:
                status, answer = call(running.url + "/ready")
                if status == 200 or "loading" not in str(answer):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            state = containers.docker(
                "inspect", "--format", "{{.State.Running}}", cid
            ).stdout.strip()
            assert state == "true", f"the container stopped:\n{running.logs()}"
            assert time.monotonic() < deadline, f"not ready in {READY_SECONDS} s:\n{running.logs()}"
            time.sleep(0.2)
        running.seconds_to_answer = time.monotonic() - started
        yield running
    finally:
        containers.docker("rm", "--force", "--volumes", cid, check=False)


def writable_folders(tmp_path: Path, volumes: set[str]) -> dict[str, str]:
    """A host folder per declared volume, owned by the image's user (uid 10001)."""
    mounts = {}
    for volume in sorted(volumes):
        folder = tmp_path / Path(volume).name
        folder.mkdir(parents=True)
        os.chown(folder, 10001, 10001)
        mounts[volume] = str(folder)
    return mounts


@pytest.mark.containers
def test_the_serving_container_answers_non_root_on_a_read_only_root(
    image, tmp_path, record_property
):
    mounts = writable_folders(tmp_path, image.volumes)
    with served(image, mounts) as server:
        ready = call(server.url + "/ready")
        uid = containers.docker(
            "exec", server.id, "python", "-c", "import os; print(os.getuid())"
        ).stdout
        answers = [call(server.url + "/predict", row) for row in image.rows]
        columns = list(image.rows[0])
        split = {
            "dataframe_split": {
                "columns": columns,
                "data": [[row[c] for c in columns] for row in image.rows],
            }
        }
        invoked = call(server.url + "/invocations", split)
        metrics = call(server.url + "/metrics")[1]
        logs = server.logs()
    record_property(f"time serving image build ({image.label})", image.build_seconds)
    record_property(f"time docker run to ready ({image.label})", server.seconds_to_answer)
    record_property(f"figure serving image ({image.label})", f"{image.size / 1e9:.2f} GB")
    for base, what in image.bases.items():
        record_property(f"figure base {base}", what)

    assert ready == (200, {"ready": True, "model_version": "1"}), logs
    assert uid.strip() == "10001"
    assert [status for status, _ in answers] == [200] * ROWS, answers[:3]
    scores = [answer["churn_probability"] for _, answer in answers]
    assert invoked[0] == 200
    assert [pair[1] for pair in invoked[1]["predictions"]] == pytest.approx(scores)
    assert f"{image.package}_rows_scored_total {2 * ROWS}" in metrics.splitlines(), metrics
    predictions = Path(mounts[next(v for v in image.volumes if v.endswith("predictions"))])
    logged = [
        json.loads(line) for path in predictions.iterdir() for line in path.read_text().splitlines()
    ]
    assert len(logged) == 2 * ROWS
    audit = [volume for volume in image.volumes if volume.endswith("audit")]
    if audit:
        verify = [
            str(image.python),
            "-m",
            image.package,
            "audit",
            "verify",
            "--dir",
            mounts[audit[0]],
        ]
        env = project_env(image.python, image.project)
        verdict = subprocess.run(verify, env=env, capture_output=True, text=True, check=False)
        assert verdict.returncode == 0, verdict.stdout + verdict.stderr
        assert f"OK, {2 * ROWS} records" in verdict.stdout


@pytest.mark.containers
def test_a_log_volume_it_cannot_write_makes_it_unready_and_never_500(image, tmp_path):
    for volume in sorted(image.volumes):
        mounts = writable_folders(tmp_path / Path(volume).name, image.volumes)
        with served(image, mounts, read_only=frozenset({volume})) as server:
            ready = call(server.url + "/ready")
            answer = call(server.url + "/predict", image.rows[0])

        assert ready[0] == 503, ready
        assert f"{volume} cannot be written" in ready[1]["reason"]
        assert (answer[0], answer[1]["error"]["code"]) == (503, "log_unwritable"), answer


@pytest.mark.containers
def test_make_load_against_the_container_finds_no_error_and_no_leak(
    image, tmp_path, record_property
):
    """The load check the project runs against its own server (make load URL=...), against the
    container: valid predictions on 4 connections for 10 s, RSS of its uvicorn (PID 1 inside)."""
    with served(image, writable_folders(tmp_path, image.volumes)) as server:
        pid = containers.docker("inspect", "--format", "{{.State.Pid}}", server.id).stdout.strip()
        load = [str(image.python), "-m", image.package, "reliability", "load", "--quiet"]
        load += ["--duration", "10", "--concurrency", "4", "--url", server.url, "--pid", pid]
        env = project_env(image.python, image.project)
        done = subprocess.run(  # in tmp_path: it writes reports/reliability/load.json there
            load, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = {line[:11].strip(): line[12:] for line in done.stdout.splitlines()}  # name, value
    assert report["errors"] == "0 (none)", done.stdout
    assert "MB ->" in report["server RSS"], done.stdout  # measured, through the pid
    record_property(f"figure make load on the container ({image.label})", report["requests"])
