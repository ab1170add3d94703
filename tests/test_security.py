"""Secrets stay out of every bake and out of what a bake builds.

The project's own secret scan (its pre-commit hook, as `make security` runs it) finds nothing in
a bake and does find a planted key; env files stay out of git, out of every image build context
and out of the template itself; compose takes each credential from the environment, required
and without a default. The project's tests check the rest (settings never print a SecretStr,
the server never logs or answers a key: tests/test_configs.py, tests/serving/test_server.py).
"""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT_TEMPLATE, project_files, template_files
from test_delivery import secret_like

#: An AWS access key id shaped like AWS's documented example: a scan that misses it is broken.
#: Split here so that no scan of this repository flags this file.
PLANTED_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
#: Env files a developer may leave in the project; none may reach git or an image.
ENV_FILES = [
    ".env",
    ".env.local",
    "stack.env",
    "prod.env",
    "configs/.env",
    "configs/.env.production",
    "configs/prod.env",
    "src/.env.local",
    "requirements/.env",
    "dags/.env",
]
#: docker-py's reading of .dockerignore (the Docker CLI's rules): what the builder is sent.
BUILD_CONTEXT = """
import json, sys
from docker.utils.build import exclude_paths
root = sys.argv[1]
lines = [line.strip() for line in open(root + "/.dockerignore").read().splitlines()]
patterns = [line for line in lines if line and not line.startswith("#")]
print(json.dumps(sorted(exclude_paths(root, patterns))))
"""
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>\w+)(?P<rest>[^}]*)\}")


@pytest.fixture(params=["default_project", "widest_project"])
def project(request) -> Path:
    return request.getfixturevalue(request.param)


def copy(project: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(project, tmp_path / project.name))


def hook(project: Path) -> dict:
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    (found,) = [hook for hook in hooks if hook["id"] == "detect-secrets"]
    return found


def scan(python: Path, project: Path) -> subprocess.CompletedProcess:
    """The pre-commit hook's command and arguments, run by the locked detect-secrets."""
    command = [str(python.parent / hook(project)["entry"]), *hook(project).get("args", [])]
    return subprocess.run(
        [*command, *sorted(project_files(project))],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_secret_scan_finds_nothing_in_a_bake(project, project_python):
    result = scan(project_python, project)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_the_secret_scan_finds_a_planted_key(default_project, project_python, tmp_path):
    project = copy(default_project, tmp_path)
    settings = next(project.glob("src/*/settings.py"))
    with settings.open("a") as code:
        code.write(f'\nAWS_ACCESS_KEY_ID = "{PLANTED_KEY}"\n')

    result = scan(project_python, project)

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "AWS Access Key" in result.stdout
    assert settings.relative_to(project).as_posix() in result.stdout


def test_make_security_scans_as_the_hook_does_with_the_locked_version(default_project):
    entry = hook(default_project)
    makefile = (default_project / "Makefile").read_text()
    command = shlex.split(re.search(r"^LEAK_SCAN := (.+)$", makefile, re.MULTILINE)[1])
    lock = (default_project / "requirements/constraints.txt").read_text()
    locked = re.search(r"^detect-secrets==(\S+)$", lock, re.MULTILINE)[1]

    assert [Path(command[0]).name, *command[1:]] == [entry["entry"], *entry.get("args", [])]
    assert entry["additional_dependencies"] == [f"detect-secrets=={locked}"]
    assert entry["language"] == "python"  # from PyPI: pre-commit needs no GitHub for it


def test_env_files_stay_out_of_git(widest_project, tmp_path):
    project = copy(widest_project, tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    for relative in ENV_FILES:
        (project / relative).write_text("CUSTOMER_CHURN_SERVE_API_KEY=x\n")

    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *ENV_FILES, ".env.example", "stack.env.example"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()

    assert sorted(ignored) == sorted(ENV_FILES), "an env file would be committed, or an example not"


def test_env_files_stay_out_of_every_image_build_context(widest_project, project_python, tmp_path):
    project = copy(widest_project, tmp_path)
    for relative in ENV_FILES:
        (project / relative).write_text("CUSTOMER_CHURN_SERVE_API_KEY=x\n")

    listed = subprocess.run(
        [str(project_python), "-c", BUILD_CONTEXT, str(project)],
        capture_output=True,
        text=True,
        check=True,
    )
    context = set(json.loads(listed.stdout))

    assert not context & set(ENV_FILES), "an env file is sent to the image builder"
    assert not [path for path in context if path.endswith((".env", ".env.example"))]
    assert {"pyproject.toml", "configs/pipeline.yaml", "dags/retraining.py"} <= context
    assert any(path.startswith("src/") and path.endswith("settings.py") for path in context)


def test_the_template_ships_env_examples_only_with_empty_credentials():
    env_files = [path for path in template_files() if ".env" in Path(path).name]

    assert env_files, "no env example: the test looks in the wrong place"
    for relative in env_files:
        assert relative.endswith(".example"), f"{relative} would be baked into every project"
        text = (PROJECT_TEMPLATE / relative).read_text()
        for name, value in re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE):
            if secret_like(name):
                assert value == "", f"{relative}: {name} has a value"


def test_compose_takes_each_credential_from_the_environment_required(widest_project):
    compose = (widest_project / "compose.yaml").read_text()
    example = (widest_project / "stack.env.example").read_text()
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE)
    used = [(match["name"], match["rest"]) for match in COMPOSE_VARIABLE.finditer(compose)]

    assert names, "stack.env.example names no credential"
    for name, rest in used:
        assert name in names or not secret_like(name), f"{name} is not in stack.env.example"
        if secret_like(name):
            assert not rest.startswith(("-", ":-", "=", ":=")), f"${{{name}{rest}}} has a default"
    required = {name for name, rest in used if rest.startswith((":?", "?"))}
    assert set(names) <= required, f"never required (${{NAME:?...}}): {set(names) - required}"
