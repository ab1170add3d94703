"""The generation-time choices (orchestrator, CI system, serving runtime, governance export) leave
the default output as it was: a project generated with the default answers is byte-for-byte the
project the template generated before the choices existed (template commit PRE_CHOICES).

Allowed differences, each asserted exactly: ``.template.json`` records the four new answers and
the new template version; the upgrade tool gained ``SET=`` to change an answer (tools/upgrade*.py
and the Makefile's ``upgrade`` rule). A later change that alters the default project on purpose
makes this test fail: it then adds its own files to the allowed differences, so the promise about
the choices keeps being checked.

Issue 11 changed the default project on purpose: the doctor (new files at every stage), Swagger UI
served by the app itself (stage 3+), the Airflow image's monitoring extra and the workers' view of
the prediction log (stage 4), the UI targets' port check, and doc fixes. Its new files are listed
exactly; its edits may touch only the files listed, and none of their changed lines may name a
system of a non-default choice. Issue 22 (environments made by uv) edited the files listed in
ISSUE_22_EDITED, and issue 23 (the user's own data) added and edited those in ISSUE_23_NEW and
ISSUE_23_EDITED (with MLflow's job executor off, start-up waits bounded only against hangs, and
each torchrun rank's digest line written whole), and issue 24 (containers run for real) those in
ISSUE_24_NEW and ISSUE_24_EDITED, under the same rule.
"""

import difflib
import json
import subprocess
from pathlib import Path

import pytest

from conftest import MANIFEST, TEMPLATE, bake_ok, project_files

PRE_CHOICES = "d570ed094ed2d70e1424670e238e9a8635490e57"
UPGRADE_TOOL = {"tools/upgrade.py", "tools/upgrade_template.py"}
CHOICE_KEYS = set(MANIFEST["choices"])
#: Issue 11's new files in a default bake, by the first stage that has them.
ISSUE_11_NEW = {
    1: {
        "src/customer_churn/core/layers.py",
        "src/customer_churn/core/lock.py",
        "src/customer_churn/io/probes.py",
        "src/customer_churn/jobs/doctor.py",
        "tests/core/test_layers.py",
        "tests/core/test_lock.py",
        "tests/jobs/test_doctor.py",
    },
    3: {"tests/serving/test_docs_pages.py"},
}
#: The files issue 11 edited (a stage has those of its layers).
ISSUE_11_EDITED = {
    ".env.example",
    "Makefile",
    "README.md",
    "compose.yaml",
    "docker/airflow.Dockerfile",
    "pyproject.toml",
    "requirements/constraints.txt",
    "src/customer_churn/cli.py",
    "src/customer_churn/serving/app.py",
}
#: The files issue 22 edited: uv in the Makefile, the README and the lock, the workflows' uv
#: cache, the gpu tests' skip reasons, pytest-xdist for `make test`.
ISSUE_22_EDITED = {
    ".github/workflows/ci.yml",
    ".github/workflows/train.yml",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "requirements/constraints.txt",
    "tests/jobs/test_train_net.py",
}
#: Issue 23's new files (the user's CSV becomes the raw table in its own job; every stage)
#: and the files it edited: malformed rows quarantined with their lines, the DVC stage that
#: reads the CSV on every run, `make test-gpu`, a torch test that only a bake with `training` has.
ISSUE_23_NEW = {"src/customer_churn/jobs/ingest.py", "tests/jobs/test_ingest.py"}
ISSUE_23_EDITED = {
    ".gitignore",
    "Makefile",
    "README.md",
    "docker/mlflow.Dockerfile",
    "dvc.yaml",
    "src/customer_churn/cli.py",
    "src/customer_churn/core/layers.py",
    "src/customer_churn/core/validation.py",
    "src/customer_churn/io/datasets.py",
    "src/customer_churn/jobs/pipeline.py",
    "src/customer_churn/jobs/register.py",
    "src/customer_churn/jobs/train_net.py",
    "tests/conftest.py",
    "tests/core/test_scoring.py",
    "tests/governance/test_serving_audit.py",
    "tests/integration/test_continuous_training.py",
    "tests/integration/test_mlflow_server.py",
    "tests/io/test_datasets.py",
    "tests/io/test_parquet.py",
    "tests/jobs/test_pipeline.py",
    "tests/jobs/test_train_net.py",
    "tests/serving/conftest.py",
    "tests/serving/test_credentials.py",
    "tests/test_cli.py",
}
#: Issue 24 (containers run for real): a server that cannot write a log it needs is not ready
#: (a new module from stage 3), and the audit log gets its declared volume.
ISSUE_24_NEW = {3: {"src/customer_churn/serving/readiness.py"}}
ISSUE_24_EDITED = {
    "Makefile",
    "compose.yaml",
    "deploy/k8s/base/deployment.yaml",
    "deploy/k8s/base/kustomization.yaml",
    "docker/serving.Dockerfile",
    "src/customer_churn/io/probes.py",
    "src/customer_churn/serving/app.py",
    "src/customer_churn/serving/routes/compat.py",
    "src/customer_churn/serving/routes/operations.py",
    "src/customer_churn/serving/service.py",
    "stack.env.example",
    "tests/serving/test_operations.py",
}
#: What a changed line of a default bake must not mention: the non-default choices' systems.
OTHER_SYSTEMS = (
    "kubeflow",
    "kfp",
    "jenkins",
    "kserve",
    "seldon",
    "mlserver",
    "cyclonedx",
    "ml-bom",
)


@pytest.fixture(scope="module")
def pre_choices_template(tmp_path_factory) -> Path:
    """The template checkout at PRE_CHOICES (git archive: no working-tree changes leak in)."""
    folder = tmp_path_factory.mktemp("pre-choices")
    archive = subprocess.run(
        ["git", "-C", str(TEMPLATE), "archive", "--format=tar", PRE_CHOICES],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"template commit {PRE_CHOICES} is not in this clone: {archive.stderr.decode()[-500:]}"
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def changed_lines(old: str, new: str) -> list[str]:
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.mark.parametrize("stage", ["1", "2", "3", "4"])
def test_default_answers_generate_the_pre_choices_project(stage, pre_choices_template, tmp_path):
    old = bake_ok(
        tmp_path / "old", template=str(pre_choices_template), maturity_stage=stage, git_init="no"
    )
    new = bake_ok(tmp_path / "new", maturity_stage=stage, git_init="no")

    added = project_files(new) - project_files(old)
    new_by_stage = [*ISSUE_11_NEW.items(), *ISSUE_24_NEW.items()]
    assert added == ISSUE_23_NEW.union(
        *(files for first, files in new_by_stage if first <= int(stage))
    )
    assert project_files(old) <= project_files(new)
    differing = {
        relative
        for relative in project_files(old)
        if (new / relative).read_bytes() != (old / relative).read_bytes()
    }
    edited = ISSUE_11_EDITED | ISSUE_22_EDITED | ISSUE_23_EDITED | ISSUE_24_EDITED
    assert differing <= {".template.json", *edited, *UPGRADE_TOOL}, sorted(differing)

    old_record = json.loads((old / ".template.json").read_text())
    new_record = json.loads((new / ".template.json").read_text())
    added_answers = set(new_record["answers"]) - set(old_record["answers"])
    assert added_answers == CHOICE_KEYS
    defaults = {key: next(iter(spec["options"])) for key, spec in MANIFEST["choices"].items()}
    assert {key: new_record["answers"][key] for key in added_answers} == defaults
    assert new_record["layers"] == old_record["layers"]
    assert new_record["template"]["version"] == MANIFEST["version"]

    makefile = changed_lines((old / "Makefile").read_text(), (new / "Makefile").read_text())
    assert {
        "-upgrade: $(INSTALLED) ## Regenerate from the template, keeping your edits: STAGE=, "
        "LAYERS=, TEMPLATE=, REF=, BRANCH=",
        "+upgrade: $(INSTALLED) ## Regenerate from the template, keeping your edits: STAGE=, "
        "LAYERS=, SET=, TEMPLATE=, REF=, BRANCH=",
        "+\t\t$(foreach choice,$(SET),--set=$(choice)) \\",
    } <= set(makefile)
    for relative in sorted(differing & edited):
        lines = changed_lines((old / relative).read_text(), (new / relative).read_text())
        named = [line for line in lines if any(word in line.lower() for word in OTHER_SYSTEMS)]
        assert not named, f"{relative} names a non-default choice: {named}"
