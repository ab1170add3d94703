"""The template's stages and layers as this project knows them: what each layer is, which
layers it needs, which make targets it brings, and how to add one that is absent.

The project records its own stage, layers and answers in .template.json; the template's full
list lives in its layers.json, which a generated project does not carry, so it is restated
here (the template's tests hold the two equal). Standard library only: `make doctor` imports
this in an environment that may be broken.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Maturity stage -> its name; a stage has the layers of the stages before it, and its own.
STAGES = {"1": "experimental", "2": "operational", "3": "production", "4": "advanced"}


@dataclass(frozen=True)
class Layer:
    name: str
    #: The first maturity stage that has it.
    stage: str
    summary: str
    requires: tuple[str, ...] = ()
    #: Make targets the layer brings whatever the answers to the choices (see CHOICE_COMMANDS).
    commands: tuple[str, ...] = ()


#: Every layer of the template, in its order.
LAYERS = (
    Layer(
        "notebook",
        "1",
        "a walkthrough notebook that calls the same jobs as the CLI",
        commands=("notebook",),
    ),
    Layer(
        "data",
        "2",
        "DVC-versioned data and pipeline with a local remote",
        commands=("repro", "push", "pull", "metrics", "plots"),
    ),
    Layer(
        "tracking",
        "2",
        "MLflow runs and model registry on SQLite",
        commands=("register", "mlflow-ui"),
    ),
    Layer("orchestration", "2", "Airflow retraining DAG on a schedule", ("tracking",)),
    Layer(
        "training",
        "3",
        "GPU-capable PyTorch training, DDP via torchrun",
        commands=("train-ddp", "test-gpu"),
    ),
    Layer(
        "serving",
        "3",
        "FastAPI prediction server",
        ("tracking",),
        ("serve", "export", "load", "fuzz", "crash-test"),
    ),
    Layer("scale", "3", "chunked Parquet data path for millions of rows"),
    Layer(
        "cicd",
        "3",
        "CI/CD (GitHub Actions and/or Jenkins): tests, pipeline on small data, image build and "
        "deploy",
    ),
    Layer(
        "infra",
        "3",
        "Dockerfiles, compose stack, Kubernetes manifests",
        ("serving", "tracking"),
        ("images", "stack-up", "stack-down", "stack-logs", "k8s-render"),
    ),
    Layer("monitoring", "4", "Evidently drift jobs", commands=("drift",)),
    Layer(
        "continuous_training",
        "4",
        "drift- or schedule-triggered retraining with a champion/challenger gate",
        ("tracking", "monitoring", "orchestration"),
        ("promote", "ct"),
    ),
    Layer(
        "governance",
        "4",
        "lineage record, model card, tamper-evident audit log",
        ("tracking",),
        ("model-card", "audit-verify", "audit-prune"),
    ),
)
BY_NAME = {layer.name: layer for layer in LAYERS}

#: Make targets of a layer that come with one answer to a generation-time choice only:
#: (choice, answer) -> {layer: targets}.
CHOICE_COMMANDS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("orchestrator", "airflow"): {
        "orchestration": ("airflow-setup", "airflow", "airflow-stop", "airflow-test"),
        "continuous_training": ("airflow-monitor",),
    },
    ("orchestrator", "kubeflow"): {"orchestration": ("kfp-setup", "kfp-compile")},
    ("governance_export", "cyclonedx"): {"governance": ("ml-bom",)},
}

#: Make targets of every project, whatever its layers.
BASE_COMMANDS = (
    "help",
    "setup",
    "doctor",
    "run",
    "test",
    "test-fast",
    "lint",
    "typecheck",
    "format",
    "security",
    "audit-deps",
    "generate",
    "upgrade",
    "clean",
)


def commands(layer: str, answers: Mapping[str, object]) -> tuple[str, ...]:
    """The make targets ``layer`` brings to a project generated with ``answers``."""
    extra = [
        targets
        for (choice, answer), by_layer in CHOICE_COMMANDS.items()
        if answers.get(choice) == answer
        for name, targets in by_layer.items()
        if name == layer
    ]
    return BY_NAME[layer].commands + tuple(target for group in extra for target in group)


def absent(present: Sequence[str]) -> list[str]:
    """The template's layers this project lacks, in the template's order."""
    return [layer.name for layer in LAYERS if layer.name not in present]


def needed_to_add(layer: str, present: Sequence[str]) -> list[str]:
    """``layer`` and every absent layer it needs (transitively), in the template's order."""
    wanted: set[str] = set()
    todo = [layer]
    while todo:
        name = todo.pop()
        if name not in wanted and name not in present:
            wanted.add(name)
            todo.extend(BY_NAME[name].requires)
    return [name for name in absent(present) if name in wanted]


def how_to_add(
    layer: str, present: Sequence[str], stage: str, answers: Mapping[str, object]
) -> str:
    """The upgrade command that adds ``layer`` with the absent layers it needs; when they all
    belong to later stages than ``stage`` and none was answered ``off`` (an upgrade keeps that
    answer), moving to the latest of those stages adds them too."""
    needed = needed_to_add(layer, present)
    command = f"make upgrade LAYERS={','.join(needed)}"
    later = max(int(BY_NAME[name].stage) for name in needed)
    switched_off = any(answers.get(f"layer_{name}") == "off" for name in needed)
    stages_add_them = all(int(BY_NAME[name].stage) > int(stage) for name in needed)
    if stage.isdigit() and stages_add_them and not switched_off:
        return f"{command} (or STAGE={later})"
    return command


def commands_by_layer(
    present: Sequence[str], answers: Mapping[str, object]
) -> dict[str, list[str]]:
    """Make targets of the base and of each present layer (that this table knows)."""
    known = [layer for layer in present if layer in BY_NAME]
    return {
        "base": list(BASE_COMMANDS),
        **{layer: list(commands(layer, answers)) for layer in known},
    }


def describe(stage: str, present: Sequence[str], answers: Mapping[str, object]) -> list[str]:
    """Lines for people: the present layers with their make targets, then the absent ones
    with what they are and how to add them."""
    lines = [f"layers: {len(present)} of {len(LAYERS)}, each with its make targets"]
    for layer, targets in commands_by_layer(present, answers).items():
        lines.append(f"  + {layer:<20} {', '.join(targets) or '(no make targets of its own)'}")
    for layer in absent(present):
        lines.append(f"  - {layer:<20} {BY_NAME[layer].summary}")
        lines.append(f"    {'':<20} add: {how_to_add(layer, present, stage, answers)}")
    return lines
