"""Compile every pipeline to <name>.yaml, offline: python pipelines/compile.py [OUT_DIR].

`make kfp-compile` runs it in .venv-kfp; upload the YAML to a Kubeflow cluster (UI or
``kfp.Client``). Settings such as the image come from the environment (project_components.py).
"""

import sys
from pathlib import Path

{% if cookiecutter|layer_enabled("continuous_training") %}import monitoring
{% endif %}import retraining
from kfp import compiler

PIPELINES = {
    "retraining": retraining.retraining,
{%- if cookiecutter|layer_enabled("continuous_training") %}
    "monitoring": monitoring.monitoring,
{%- endif %}
}


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pipeline in PIPELINES.items():
        package = out_dir / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(package))
        print(f"wrote {package}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/pipelines"))
