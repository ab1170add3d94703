"""ci_system=jenkins|both: a declarative Jenkinsfile with the GitHub CI's stages, per layers.

The Jenkinsfile passes npm-groovy-lint (the Groovy compiler's parse and CodeNarc, npm, pinned in
tests/validators/) and the declarative rules of tests/jenkinsfile_check.py; both fail on broken
files. Every make target it calls exists in that bake's Makefile, and credentials come from
Jenkins (``credentials('id')``), never from the file.
"""

import re
from pathlib import Path

import pytest

from conftest import TEMPLATE, bake_ok, npm_validators, tool
from jenkinsfile_check import declarative_problems, groovy_lint, stage_names, string_literals
from test_delivery import KNOWN_SECRET_FORMATS, URI_PASSWORD, secret_like

CASES = {
    "stage1-with-cicd": {"layer_cicd": "on", "ci_system": "jenkins"},
    "stage3": {"maturity_stage": "3", "ci_system": "jenkins"},
    "stage4": {"maturity_stage": "4", "ci_system": "jenkins"},
    "stage3-both": {"maturity_stage": "3", "ci_system": "both"},
    "stage4-kubeflow-kserve": {
        "maturity_stage": "4",
        "ci_system": "jenkins",
        "orchestrator": "kubeflow",
        "serving_runtime": "kserve",
    },
    "stage3-seldon": {"maturity_stage": "3", "ci_system": "jenkins", "serving_runtime": "seldon"},
}
#: The stages each bake has, in order: the checks always, then what its layers add.
STAGES = {
    "stage1-with-cicd": ["Checks", "Lint", "Test", "Security"],
    "stage3": [
        *["Checks", "Lint", "Test", "Security", "Pipeline on small data"],
        *["Build images", "Build", "Push", "Deploy"],
    ],
}
STAGES |= {case: STAGES["stage3"] for case in CASES if case not in STAGES}


def deploy_waits(slug: str) -> dict[str, list[str]]:
    """What the Deploy stage waits for, per serving runtime: the resource it deployed."""
    return {
        "fastapi": [f"serving=deployment/{slug}-serving\n", 'rollout status "$serving"'],
        "kserve": [f"wait --for=condition=Ready inferenceservice/{slug} "],
        "seldon": [f"wait --for=condition=Ready model/{slug} "],
    }


#: Broken on purpose: the check must reject each one.
BREAKAGES = {
    "missing-brace": ("        stage('Test') {", "        stage('Test')"),
    "stage-without-steps": ("sh 'make lint'\n                        sh 'make typecheck'", ""),
    "unknown-section": ("steps {\n                        sh 'make lint'", "step {\n"),
}


@pytest.fixture(scope="module")
def bakes(tmp_path_factory) -> dict[str, Path]:
    """Each case baked once, and the default stage 3 to compare .github/ with."""
    cases = {**CASES, "stage3-github": {"maturity_stage": "3"}}
    return {
        name: bake_ok(tmp_path_factory.mktemp(name) / "out", git_init="no", **answers)
        for name, answers in cases.items()
    }


@pytest.fixture(scope="module")
def broken(bakes, tmp_path_factory) -> dict[str, Path]:
    """The stage 4 Jenkinsfile with one breakage each."""
    text = (bakes["stage4"] / "Jenkinsfile").read_text()
    made = {}
    for name, (old, new) in BREAKAGES.items():
        assert old in text, name
        made[name] = tmp_path_factory.mktemp(name) / "Jenkinsfile"
        made[name].write_text(text.replace(old, new, 1))
    return made


@pytest.fixture(scope="module")
def linted(bakes, broken) -> dict[Path, list[str]]:
    """npm-groovy-lint's findings for every Jenkinsfile, in one run (the JVM starts once)."""
    tool("java")  # npm-groovy-lint parses with CodeNarc, on the JVM
    files = [bakes[name] / "Jenkinsfile" for name in CASES] + list(broken.values())
    return groovy_lint(npm_validators(), TEMPLATE / "tests" / "validators", files)


@pytest.mark.matrix  # npm-groovy-lint on the JVM: about half a minute; the rules below are cheap
@pytest.mark.parametrize("case", CASES)
def test_jenkinsfile_passes_groovy_lint_and_the_declarative_rules(case, bakes, linted):
    jenkinsfile = bakes[case] / "Jenkinsfile"

    assert linted[jenkinsfile] == []
    assert declarative_problems(jenkinsfile.read_text()) == []


@pytest.mark.matrix
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_check_rejects_a_broken_jenkinsfile(breakage, broken, linted):
    jenkinsfile = broken[breakage]

    problems = linted[jenkinsfile] + declarative_problems(jenkinsfile.read_text())

    assert problems
    if breakage == "missing-brace":  # the Groovy compiler itself refuses it
        assert any("NglParseError" in problem for problem in linted[jenkinsfile])


@pytest.mark.parametrize("case", CASES)
def test_stages_follow_the_layers(case, bakes):
    text = (bakes[case] / "Jenkinsfile").read_text()
    calls = make_calls(text)

    orchestration = infra = case != "stage1-with-cicd"  # stage 2+ / 3+ layers
    kubeflow = CASES[case].get("orchestrator") == "kubeflow"

    assert stage_names(text) == STAGES[case]
    assert {"lint", "typecheck", "test", "security", "audit-deps"} <= calls
    assert ("airflow-test" in calls) == (orchestration and not kubeflow)
    assert ("kfp-compile" in calls) == kubeflow
    assert ("images" in calls) == infra


@pytest.mark.parametrize("case", CASES)
def test_deploy_waits_for_what_the_serving_runtime_deploys(case, bakes):
    text = (bakes[case] / "Jenkinsfile").read_text()
    runtime = CASES[case].get("serving_runtime", "fastapi")
    fastapi = runtime == "fastapi" and case != "stage1-with-cicd"

    # Only the FastAPI Deployment runs the serving image: its digest is pinned in the overlay.
    assert ("serving-image" in text) == fastapi
    assert ("pinned by digest" in text) == fastapi
    if case == "stage1-with-cicd":
        assert "stage('Deploy')" not in text
        assert "Credentials Binding" not in text
        return
    deploy = text[text.index("stage('Deploy')") :]
    assert "Credentials Binding" in text
    for other, waits in deploy_waits(bakes[case].name).items():
        for wait in waits:
            assert (wait in deploy) == (other == runtime), (other, wait)
    assert "rollout undo" not in deploy or fastapi


def make_calls(text: str) -> set[str]:
    """The targets of every ``make`` in the Jenkinsfile's strings (its shell steps)."""
    return {
        target
        for literal in string_literals(text)
        for target in re.findall(r"(?:^|[\s;&|])make\s+([a-z][\w-]*)", literal)
    }


def makefile_targets(makefile: Path) -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*):(?!=)", makefile.read_text(), re.MULTILINE))


@pytest.mark.parametrize("case", CASES)
def test_every_make_target_called_exists(case, bakes):
    project = bakes[case]

    calls = make_calls((project / "Jenkinsfile").read_text())

    assert calls
    assert calls <= makefile_targets(project / "Makefile")


@pytest.mark.parametrize("case", CASES)
def test_credentials_come_from_jenkins_only(case, bakes):
    text = (bakes[case] / "Jenkinsfile").read_text()

    assert not KNOWN_SECRET_FORMATS.search(text)
    assert not URI_PASSWORD.search(text)
    for name, value in re.findall(r"^\s*(\w+)\s*=\s*(.+)$", text, re.MULTILINE):
        if secret_like(name) or value.startswith("credentials("):
            assert re.fullmatch(r"credentials\('[\w.-]+'\)", value), f"{name} = {value}"
    if case != "stage1-with-cicd":  # images are pushed, and rolled out
        assert "credentials('container-registry')" in text
        assert "credentials('kubeconfig-prod')" in text


def test_the_ci_system_decides_which_ci_files_exist(bakes):
    def github_files(project: Path) -> dict[str, bytes]:
        return {
            path.relative_to(project).as_posix(): path.read_bytes()
            for path in sorted((project / ".github").rglob("*"))
            if path.is_file()
        }

    for case in [case for case, answers in CASES.items() if answers["ci_system"] == "jenkins"]:
        assert not (bakes[case] / ".github").exists(), case
    assert not (bakes["stage3-github"] / "Jenkinsfile").exists()
    assert github_files(bakes["stage3-both"]) == github_files(bakes["stage3-github"])
    assert github_files(bakes["stage3-github"])
