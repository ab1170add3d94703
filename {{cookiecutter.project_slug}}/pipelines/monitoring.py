"""Drift monitoring: check the current window against the champion's training data; when the
data drifted, run the retraining pipeline (which ends in the champion/challenger gate).

The check is the project's `drift` job. Its exit code decides: 3 (drift) runs the retraining
steps, 0 (no drift) skips them, 2 (bad input: a missing column, too few rows) fails the step.
Schedule it with a recurring run (e.g. daily). The image needs the project's monitoring extra
(Evidently){% if cookiecutter|layer_enabled("infra") and cookiecutter|layer_enabled("training") %}: docker/training.Dockerfile installs it{% endif %}.

Parameters: ``current``, the window to check, and ``reference``, the table to compare it with:
paths the step's pod can read (a volume mounted with kfp-kubernetes, e.g. the prediction
server's log). Empty: the job's defaults ({% if cookiecutter|layer_enabled("serving") %}the server's prediction log, {% endif %}the champion's training split
as its registration recorded it).

Settings (environment where the pipelines are compiled), besides project_components.py's:
  {{ cookiecutter.package_name|upper }}_DRIFT_WINDOW    the default of ``current``
"""

import os

from kfp import dsl
from project_components import (
    PACKAGE,
    PREFIX,
    SLUG,
    WORKSPACE,
    WORKSPACE_PATH,
    configure,
    script,
)
from retraining import retraining

WINDOW = os.environ.get(f"{PREFIX}DRIFT_WINDOW", "")
#: The drift job's exit codes.
DRIFT_FOUND, NO_DRIFT = 3, 0

# The step's script (project_components.script): the job's arguments (an empty path is left
# out), then its verdict as the output "true"/"false"; any other exit status fails the step.
CHECK = f"""drifted="$1" current="$2" reference="$3"
set -- drift
if [ -n "$current" ]; then set -- "$@" --current "$current"; fi
if [ -n "$reference" ]; then set -- "$@" --reference "$reference"; fi
python -m {PACKAGE} "$@"; code=$?
mkdir -p "$(dirname "$drifted")"
if [ $code -eq {DRIFT_FOUND} ]; then printf true > "$drifted"
elif [ $code -eq {NO_DRIFT} ]; then printf false > "$drifted"
else exit $code; fi
"""


@dsl.container_component
def check_drift(workspace: str, current: str, reference: str, drifted: dsl.OutputPath(str)):
    """Writes ``drifted``: "true" when the data drifted, "false" when it did not."""
    return script(workspace, CHECK, drifted, current, reference)


@dsl.pipeline(
    name=f"{SLUG}-monitoring",
    description="Check the current data for drift; retrain when it drifted",
    pipeline_config=WORKSPACE,
)
def monitoring(current: str = WINDOW, reference: str = "", seed: int = 0):
    check = configure(check_drift(workspace=WORKSPACE_PATH, current=current, reference=reference))
    with dsl.If(check.outputs["drifted"] == "true", name="drift-found"):
        retraining(seed=seed, trigger="drift").set_caching_options(enable_caching=False)
