"""Bake every available stage and every meaningful switch; check what comes out."""

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import (
    MANIFEST,
    PROJECT_TEMPLATE,
    TEMPLATE,
    bake,
    bake_ok,
    cached_bake,
    expected_files,
    layer_manifest,
    project_files,
)

BOB = "Robert \"Bob\" O'Neil's churn"
#: (id, answers, expected package name): every stage that is built, and every switch that matters.
CASES = [
    ("stage1-defaults", {}, "customer_churn"),
    ("stage1-no-notebook", {"layer_notebook": "off"}, "customer_churn"),
    (
        "stage1-quoted-name",
        {"project_name": BOB, "description": BOB, "author_name": BOB},
        "robert_bob_o_neil_s_churn",
    ),
    (
        "stage1-custom-names-py312",
        {"project_slug": "acme-retention", "package_name": "retention", "python_version": "3.12"},
        "retention",
    ),
    ("stage2-defaults", {"maturity_stage": "2"}, "customer_churn"),
    (
        "stage2-no-orchestration",
        {"maturity_stage": "2", "layer_orchestration": "off"},
        "customer_churn",
    ),
    (
        "stage2-tracking-without-dvc",
        {"maturity_stage": "2", "layer_data": "off", "layer_orchestration": "off"},
        "customer_churn",
    ),
    ("stage1-with-dvc", {"layer_data": "on"}, "customer_churn"),
    (
        "stage2-training-serving-scale",
        {
            "maturity_stage": "2",
            "layer_training": "on",
            "layer_serving": "on",
            "layer_scale": "on",
        },
        "customer_churn",
    ),
    ("stage3-defaults", {"maturity_stage": "3"}, "customer_churn"),
    ("stage4-defaults", {"maturity_stage": "4"}, "customer_churn"),
    (
        "stage2-with-stage4-layers-without-serving",
        {
            "maturity_stage": "2",
            "layer_monitoring": "on",
            "layer_continuous_training": "on",
            "layer_governance": "on",
        },
        "customer_churn",
    ),
    ("stage1-with-monitoring", {"layer_monitoring": "on"}, "customer_churn"),
    ("stage1-with-training", {"layer_training": "on"}, "customer_churn"),
    ("stage1-with-scale", {"layer_scale": "on"}, "customer_churn"),
    (
        "stage4-other-systems",
        {
            "maturity_stage": "4",
            "orchestrator": "kubeflow",
            "ci_system": "both",
            "serving_runtime": "kserve",
            "governance_export": "cyclonedx",
        },
        "customer_churn",
    ),
    (
        "stage2-custom-names",
        {"maturity_stage": "2", "project_slug": "acme-retention", "package_name": "retention"},
        "retention",
    ),
]
#: One bake per stage: `make test` runs their own suites (fast tests) and type checks; `make
#: test-all` runs every case's.
EVERYDAY = ("stage1-defaults", "stage2-defaults", "stage3-defaults", "stage4-defaults")


def tiered(cases: list[tuple[str, dict, str]]) -> list:
    """``cases`` as parameters: the EVERYDAY ones for every tier, the others marked ``matrix``."""
    return [
        pytest.param(*case, id=case[0], marks=() if case[0] in EVERYDAY else pytest.mark.matrix)
        for case in cases
    ]


#: The other answers to the choices, checked for their file sets and leftover syntax only: they
#: change no Python that stage4-other-systems does not already bring.
OTHER_CHOICES = [
    (
        "stage3-jenkins-seldon",
        {"maturity_stage": "3", "ci_system": "jenkins", "serving_runtime": "seldon"},
        "customer_churn",
    ),
    ("stage2-kubeflow", {"maturity_stage": "2", "orchestrator": "kubeflow"}, "customer_churn"),
    ("stage1-cicd-jenkins", {"layer_cicd": "on", "ci_system": "jenkins"}, "customer_churn"),
]
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#|cookiecutter\.")
#: Files whose ``{{ }}`` is meant for another engine (Airflow macros, GitHub expressions, docker
#: inspect's Go templates in the Jenkinsfile),
#: checked for ours only (globs).
RUNTIME_TEMPLATED = ("dags/*.py", "tests/test_dags.py", ".github/workflows/*.yml", "Jenkinsfile")
OUR_SYNTAX = re.compile(r"\{%|\{#|cookiecutter\.")
#: Globs of files cookiecutter copies without rendering: their braces are Python, not Jinja.
VERBATIM = json.loads((TEMPLATE / "cookiecutter.json").read_text())["_copy_without_render"]


def is_verbatim(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in VERBATIM)


def bake_case(tmp_path: Path, answers: dict) -> Path:
    return bake_ok(tmp_path / "out", git_init="no", **answers)


# The checks below only read a bake: they share the cached one.
@pytest.fixture(params=CASES, ids=[case[0] for case in CASES])
def baked(request) -> tuple[Path, dict, str]:
    _, answers, package = request.param
    return cached_bake(git_init="no", **answers), answers, package


@pytest.fixture(params=CASES + OTHER_CHOICES, ids=[case[0] for case in CASES + OTHER_CHOICES])
def any_bake(request) -> tuple[Path, dict, str]:
    _, answers, package = request.param
    return cached_bake(git_init="no", **answers), answers, package


def test_exact_file_set_from_the_manifest(any_bake):
    project, answers, package = any_bake
    layers = json.loads((project / ".template.json").read_text())["layers"]

    assert layers == layer_manifest.enabled_layers(MANIFEST, {"maturity_stage": "1", **answers})
    assert project_files(project) == expected_files(layers, package, answers)


def test_no_template_syntax_left(any_bake):
    project, _, _ = any_bake
    for relative in filter(lambda path: not is_verbatim(path), project_files(project)):
        text = (project / relative).read_text(encoding="utf-8")
        runtime = any(fnmatch.fnmatch(relative, pattern) for pattern in RUNTIME_TEMPLATED)
        syntax = OUR_SYNTAX if runtime else TEMPLATE_SYNTAX
        assert not syntax.search(text), f"unrendered template syntax in {relative}"


def test_verbatim_files_are_copied_byte_for_byte(default_project):
    copied = [relative for relative in project_files(default_project) if is_verbatim(relative)]

    assert copied, "no file matches _copy_without_render"
    for relative in copied:
        assert (default_project / relative).read_bytes() == (
            PROJECT_TEMPLATE / relative
        ).read_bytes()


def test_every_structured_file_parses(baked):
    project, _, _ = baked
    parsers = {
        ".toml": tomllib.loads,
        ".yaml": lambda text: list(yaml.safe_load_all(text)),  # Kubernetes files hold several
        ".yml": yaml.safe_load,
        ".json": json.loads,
        ".ipynb": lambda text: nbformat.validate(nbformat.reads(text, as_version=4)),
    }
    checked = 0
    for relative in project_files(project):
        parse = parsers.get(Path(relative).suffix)
        if parse:
            parse((project / relative).read_text(encoding="utf-8"))
            checked += 1
    assert checked >= 4


def test_ruff_check_and_format_pass(baked):
    project, _, _ = baked
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_free_text_survives_quoting(tmp_path):
    project = bake_case(tmp_path, {"project_name": BOB, "description": BOB, "author_name": BOB})

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    notebook = nbformat.read(project / "notebooks" / "churn_walkthrough.ipynb", as_version=4)
    assert pyproject["description"] == BOB
    assert pyproject["authors"][0]["name"] == BOB
    assert notebook.cells[0].source == f"# {BOB}: walkthrough"
    assert f"# {BOB}" in (project / "README.md").read_text()


def test_baking_twice_gives_identical_trees(tmp_path):
    # Two real bakes: bake_ok would copy one cached bake twice.
    for folder in ("a", "b"):
        assert bake(tmp_path / folder, git_init="no").returncode == 0
    first, second = tmp_path / "a" / "customer-churn", tmp_path / "b" / "customer-churn"

    assert project_files(first) == project_files(second)
    for relative in project_files(first):
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_answers_record_has_template_identity_and_no_machine_paths(default_project):
    text = (default_project / MANIFEST["answers_file"]).read_text()
    record = json.loads(text)

    assert record["answers"]["maturity_stage"] == "1"
    assert record["template"]["version"] == MANIFEST["version"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=TEMPLATE, capture_output=True, text=True
    )
    assert record["template"]["commit"] == (head.stdout.strip() or None)
    for machine_path in (str(TEMPLATE), str(default_project.parent), str(Path.home())):
        assert machine_path not in text
    assert not any(key.startswith("_") for key in record["answers"])


def test_git_init_makes_one_clean_commit(tmp_path):
    project = bake_ok(tmp_path / "out")

    log = subprocess.run(["git", "log", "--oneline"], cwd=project, capture_output=True, text=True)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    )
    assert len(log.stdout.splitlines()) == 1
    assert status.stdout == ""


@pytest.mark.parametrize(("ignored", "own_repo"), [(False, False), (True, True)])
def test_inside_another_repo_only_an_ignored_folder_gets_its_own(tmp_path, ignored, own_repo):
    outer = tmp_path / "monorepo"
    outer.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=outer, check=True)
    (outer / ".gitignore").write_text("demo/\n" if ignored else "")

    assert bake(outer / "demo").returncode == 0  # a bake of its own: the hook's git init

    project = outer / "demo" / "customer-churn"
    assert (project / ".git").is_dir() == own_repo
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=project, capture_output=True)
    assert Path(top.stdout.decode().strip()) == (project if own_repo else outer)


@pytest.fixture(scope="module")
def half_built_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of this template whose manifest marks its last layer as not built yet, as a
    template looks while a stage is under way."""
    copy = tmp_path_factory.mktemp("half-built") / "template"
    ignore = shutil.ignore_patterns(".git", ".cache", ".venv", "__pycache__", ".*_cache")
    shutil.copytree(TEMPLATE, copy, ignore=ignore)
    manifest = json.loads((copy / "layers.json").read_text())
    layer = list(manifest["layers"])[-1]
    manifest["layers"][layer]["built"] = False
    (copy / "layers.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return copy, layer


def test_a_stage_with_an_unbuilt_layer_is_refused_naming_it(tmp_path, half_built_template):
    template, layer = half_built_template
    stage = max(MANIFEST["stages"], key=int)

    result = bake(tmp_path / "out", template=str(template), maturity_stage=stage)

    assert layer in MANIFEST["stages"][stage]["layers"]
    assert result.returncode != 0
    assert f"maturity_stage={stage}" in result.stderr
    assert layer in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_an_unbuilt_layer_switched_on_is_refused(tmp_path, half_built_template):
    template, layer = half_built_template
    switched_on = [layer, *MANIFEST["layers"][layer]["requires"]]  # so only "built" is missing

    result = bake(
        tmp_path / "out",
        template=str(template),
        **{layer_manifest.switch_name(on): "on" for on in switched_on},
    )

    assert result.returncode != 0
    assert f"not built yet: {layer}" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_serving_without_tracking_is_refused(tmp_path):
    result = bake(tmp_path / "out", layer_serving="on")

    assert result.returncode != 0
    assert "layer_serving needs layer(s) tracking" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_orchestration_without_tracking_is_refused(tmp_path):
    result = bake(tmp_path / "out", maturity_stage="2", layer_tracking="off")

    assert result.returncode != 0
    assert "layer_orchestration needs layer(s) tracking" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_a_choice_whose_layer_is_off_is_refused(tmp_path):
    result = bake(tmp_path / "out", maturity_stage="2", serving_runtime="kserve")

    assert result.returncode != 0
    assert "serving_runtime=kserve needs layer infra, which is off at maturity_stage=2" in (
        result.stderr
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_stage1_files_are_untouched_by_stage2_switches_off(tmp_path):
    """Stage 2 with every stage-2 layer off renders exactly the stage-1 project."""
    stage1 = bake_case(tmp_path / "one", {})
    stage2_off = bake_case(
        tmp_path / "two",
        {
            "maturity_stage": "2",
            "layer_data": "off",
            "layer_tracking": "off",
            "layer_orchestration": "off",
        },
    )

    files = project_files(stage1) - {".template.json"}
    assert files == project_files(stage2_off) - {".template.json"}
    for relative in files:
        first, second = (stage1 / relative).read_text(), (stage2_off / relative).read_text()
        if relative == "README.md":  # it names the stage it was generated at
            second = second.replace("maturity stage 2", "maturity stage 1")
        assert first == second, relative


def test_combination_that_cannot_work_is_refused(tmp_path):
    result = bake(tmp_path / "out", layer_continuous_training="on")

    assert result.returncode != 0
    assert (
        "layer_continuous_training needs layer(s) tracking, monitoring, orchestration"
        in result.stderr
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_template_given_as_a_relative_path(tmp_path):
    # `make demo` runs `cookiecutter .`: the hooks must still find the manifest.
    result = bake(tmp_path / "out", template=".", cwd=TEMPLATE, git_init="no")

    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "customer-churn" / ".template.json").exists()
