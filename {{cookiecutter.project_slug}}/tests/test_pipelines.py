"""The pipeline files, read as text: the Kubeflow Pipelines SDK compiles them in its own
environment (.venv-kfp), so they must not import this package (or anything outside kfp, the
standard library and each other). `make kfp-compile` compiles them; the template's tests do too."""

import ast
import sys
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
LOCAL = {path.stem for path in PIPELINES.glob("*.py")}
ALLOWED_ROOTS = {"kfp", "__future__"} | LOCAL | set(sys.stdlib_module_names)


def imported_roots(tree: ast.Module) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0] if node.level == 0 else ".")
    return roots


def test_pipelines_import_only_kfp_the_standard_library_and_each_other():
    assert {"compile", "project_components", "retraining"} <= LOCAL
    for path in PIPELINES.glob("*.py"):
        roots = imported_roots(ast.parse(path.read_text(encoding="utf-8")))

        assert roots <= ALLOWED_ROOTS, f"{path.name}: {roots - ALLOWED_ROOTS}"


def test_steps_run_the_project_jobs_in_order_in_the_run_folder():
    source = (PIPELINES / "retraining.py").read_text(encoding="utf-8")
    shared = (PIPELINES / "project_components.py").read_text(encoding="utf-8")

    jobs = ['"generate"', '"prepare"', '"train"', '"evaluate"', '"register", "--run-key"']
    positions = [source.index(f"job(workspace, {job}") for job in jobs]
    assert positions == sorted(positions)
    assert 'exec python -m {PACKAGE} "$@"' in shared
    assert 'PACKAGE = "{{ cookiecutter.package_name }}"' in shared
    for folder in ("DATA_DIR", "MODELS_DIR", "REPORTS_DIR"):
        assert "{PREFIX}" + folder + '="$run/' in shared
    assert "set_caching_options(enable_caching=False)" in shared
    assert "pipeline_config=WORKSPACE" in source
{%- if cookiecutter|layer_enabled("continuous_training") %}


def test_monitoring_retrains_only_on_drift_and_retraining_ends_in_the_gate():
    monitoring = (PIPELINES / "monitoring.py").read_text(encoding="utf-8")
    retraining = (PIPELINES / "retraining.py").read_text(encoding="utf-8")

    assert "set -- drift" in monitoring
    assert "DRIFT_FOUND, NO_DRIFT = 3, 0" in monitoring
    assert 'dsl.If(check.outputs["drifted"] == "true"' in monitoring
    assert 'retraining(seed=seed, trigger="drift")' in monitoring
    assert 'job(\n        workspace, "promote"' in retraining
    assert retraining.index('"register", "--run-key"') < retraining.index('"promote"')
{%- endif %}
