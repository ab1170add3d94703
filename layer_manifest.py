"""Read the layer manifest (layers.json) and decide which layers a set of answers enables.

The hooks, the template files (through the ``layer_enabled`` Jinja filter), the template tests
and the upgrade command all use this module, so there is one reading of the manifest. The hooks
need the standard library only; Jinja is imported only for the extension cookiecutter loads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

try:
    from jinja2.ext import Extension
except ImportError:  # the hooks run with the standard library alone
    Extension = object

MANIFEST_NAME = "layers.json"


def load(template_dir: str | Path | None = None) -> dict:
    """Load the manifest that sits at the top of the template checkout (beside this module)."""
    folder = Path(template_dir) if template_dir else Path(__file__).parent
    return json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))


def switch_name(layer: str) -> str:
    """The cookiecutter answer that switches ``layer`` on or off."""
    return f"layer_{layer}"


def enabled_layers(manifest: dict, answers: dict) -> list[str]:
    """Layers chosen by the stage, then overridden by each ``layer_*`` answer, in manifest order."""
    by_stage = set(manifest["stages"][str(answers["maturity_stage"])]["layers"])
    chosen = []
    for layer in manifest["layers"]:
        switch = answers.get(switch_name(layer), "auto")
        if switch == "on" or (switch == "auto" and layer in by_stage):
            chosen.append(layer)
    return chosen


def missing_requirements(manifest: dict, layers: list[str]) -> dict[str, list[str]]:
    """For each enabled layer, the layers it needs that are not enabled."""
    missing = {}
    for layer in layers:
        lacking = [need for need in manifest["layers"][layer]["requires"] if need not in layers]
        if lacking:
            missing[layer] = lacking
    return missing


def unbuilt(manifest: dict, layers: list[str]) -> list[str]:
    """Enabled layers that this template version does not ship yet."""
    return [layer for layer in layers if not manifest["layers"][layer]["built"]]


def owned_paths(manifest: dict, layers: list[str]) -> list[str]:
    """Paths (files, or directories ending in '/') owned by the given layers, as in the template."""
    return [path for layer in layers for path in manifest["layers"][layer]["paths"]]


def choice(manifest: dict, answers: dict | None, key: str) -> str:
    """The answer to a generation-time choice; its first option when not answered."""
    options = manifest["choices"][key]["options"]
    return str((answers or {}).get(key, next(iter(options))))


def uses(manifest: dict, answers: dict, key: str, values: str | list[str]) -> bool:
    """Whether a bake has the choice's layer on and answered ``key`` with one of ``values``."""
    wanted = [values] if isinstance(values, str) else values
    layer = manifest["choices"][key]["layer"]
    return layer in enabled_layers(manifest, answers) and choice(manifest, answers, key) in wanted


def unused_choices(manifest: dict, answers: dict, layers: list[str]) -> dict[str, str]:
    """Choices answered with something other than their default while their layer is off."""
    unused = {}
    for key, spec in manifest["choices"].items():
        default = next(iter(spec["options"]))
        if spec["layer"] not in layers and choice(manifest, answers, key) != default:
            unused[key] = spec["layer"]
    return unused


def dropped_paths(manifest: dict, layers: list[str], answers: dict | None = None) -> list[str]:
    """Template paths a bake with ``layers`` leaves out: every path of the other layers, and the
    paths of its own layers that need a further layer it lacks (``path_requires``) or another
    answer to a choice (``path_choices``; unanswered choices take their default)."""
    dropped = []
    for layer, spec in manifest["layers"].items():
        if layer not in layers:
            dropped += spec["paths"]
            continue
        needs = spec.get("path_requires", {})
        dropped += [path for path, also in needs.items() if not set(also) <= set(layers)]
        for path, conditions in spec.get("path_choices", {}).items():
            if any(choice(manifest, answers, key) not in ok for key, ok in conditions.items()):
                dropped.append(path)
    return dropped


def covers(owned: str, relative_path: str) -> bool:
    """Whether a manifest path (a file, or a directory ending in '/') includes ``relative_path``."""
    return relative_path == owned or (owned.endswith("/") and relative_path.startswith(owned))


def included(
    manifest: dict, relative_path: str, layers: list[str], answers: dict | None = None
) -> bool:
    """Whether a bake with ``layers`` (and ``answers`` to the choices) keeps this template path."""
    dropped = dropped_paths(manifest, layers, answers)
    return not any(covers(path, relative_path) for path in dropped)


def render_path(path: str, answers: dict) -> str:
    """A manifest path inside a generated project: ``{{cookiecutter.key}}`` becomes the answer."""
    for key, value in answers.items():
        path = path.replace("{{cookiecutter." + key + "}}", str(value))
    return path


def owner(manifest: dict, relative_path: str) -> str:
    """The layer that owns a project-relative path ('base' when no layer claims it)."""
    for layer, spec in manifest["layers"].items():
        if any(covers(path, relative_path) for path in spec["paths"]):
            return layer
    return "base"


def prune(project_dir: Path, manifest: dict, keep: list[str], answers: dict) -> list[str]:
    """Delete every path a bake with the layers ``keep`` leaves out; return what was removed."""
    removed = []
    for relative in (render_path(path, answers) for path in dropped_paths(manifest, keep, answers)):
        target = project_dir / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        else:
            continue
        removed.append(relative)
        _remove_empty_parents(target.parent, project_dir)
    return removed


def _remove_empty_parents(directory: Path, stop: Path) -> None:
    while directory != stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


class LayerExtension(Extension):
    """Jinja filters for the shared files: ``{% if cookiecutter|layer_enabled("notebook") %}``
    and ``{% if cookiecutter|uses("orchestrator", "kubeflow") %}`` (layer on, that answer).

    Also the global ``template_dir``: the absolute checkout path, which the hooks need to import
    this module (cookiecutter's ``_repo_dir`` is relative when the template is given as '.').
    """

    def __init__(self, environment) -> None:
        super().__init__(environment)
        environment.filters["layer_enabled"] = layer_enabled
        environment.filters["uses"] = uses_filter
        environment.globals["template_dir"] = str(Path(__file__).resolve().parent)


def layer_enabled(answers: dict, layer: str) -> bool:
    manifest = load()
    if layer not in manifest["layers"]:
        raise KeyError(f"layer_enabled: unknown layer {layer!r}")
    return layer in enabled_layers(manifest, answers)


def uses_filter(answers: dict, key: str, values: str | list[str]) -> bool:
    manifest = load()
    if key not in manifest["choices"]:
        raise KeyError(f"uses: unknown choice {key!r}")
    return uses(manifest, answers, key, values)


def highest_built_stage(manifest: dict | None = None) -> str:
    """The highest stage whose default layers are all built (what ``make demo`` generates)."""
    manifest = manifest or load()
    built = [
        stage for stage, spec in manifest["stages"].items() if not unbuilt(manifest, spec["layers"])
    ]
    return max(built, key=int)
