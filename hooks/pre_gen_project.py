"""Refuse unsafe or unworkable answers before cookiecutter writes anything.

Standard library only. Each refusal is one line naming the answer and the rule, and exit code 1;
cookiecutter then removes the (still empty) project folder.
"""

import json
import keyword
import re
import sys
from pathlib import Path

# The answers arrive as one JSON document: no answer is ever pasted into a string literal.
CONTEXT = json.loads({{ cookiecutter | jsonify | tojson }})
TEMPLATE_DIR = Path({{ template_dir | tojson }})  # absolute, from layer_manifest.LayerExtension
{% raw %}
sys.path.insert(0, str(TEMPLATE_DIR))
import layer_manifest as manifest  # noqa: E402  (top of the template checkout)

FREE_TEXT = ("project_name", "description", "author_name")
TEMPLATE_MARKERS = ("{{", "{%", "{#", "}}", "%}", "#}")
SLUG_RULE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
PACKAGE_RULE = re.compile(r"[a-z][a-z0-9_]*")
EMAIL_RULE = re.compile(r"[^@\s\"'\\/]+@[^@\s\"'\\/]+\.[a-z]{2,}", re.IGNORECASE)
MAX_NAME = 40
# Import names a generated project (at any stage) depends on, or uses as top-level folders.
TAKEN_NAMES = {
    "airflow", "click", "cookiecutter", "dvc", "evidently", "fastapi", "hatchling", "httpx",
    "ipykernel", "jinja2", "joblib", "matplotlib", "mlflow", "nbclient", "nbformat", "numpy",
    "pandas", "pip", "pyarrow", "pydantic", "pydantic_settings", "pytest", "requests", "rich",
    "ruff", "scikit_learn", "scipy", "setuptools", "sklearn", "starlette", "torch", "tqdm",
    "typer", "uvicorn", "yaml", "configs", "data", "models", "notebooks", "reports", "src",
    "test", "tests",
}


class Refused(Exception):
    """An answer broke a rule; the message is the one line the user sees."""


def check_free_text(key: str, value: str) -> None:
    if not value.strip():
        raise Refused(f"{key} is empty: give a short text")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise Refused(f"{key} contains a newline or control character: keep it on one line")
    if "\\" in value:
        raise Refused(f"{key} contains a backslash: remove it")
    if any(marker in value for marker in TEMPLATE_MARKERS):
        raise Refused(key + " contains template syntax ({{, {%, {#): remove it")
    if len(value) > 200:
        raise Refused(f"{key} is longer than 200 characters")


def check_name(key: str, value: str, rule: re.Pattern, shape: str) -> None:
    if not rule.fullmatch(value):
        raise Refused(f"{key}={value!r} is refused: it must be {shape}")
    if len(value) > MAX_NAME:
        raise Refused(f"{key}={value!r} is longer than {MAX_NAME} characters")
    as_module = value.replace("-", "_")
    if keyword.iskeyword(as_module):
        raise Refused(f"{key}={value!r} is a Python keyword: pick another name")
    if as_module in sys.stdlib_module_names:
        raise Refused(f"{key}={value!r} shadows the standard-library module {as_module!r}")
    if as_module in TAKEN_NAMES:
        raise Refused(f"{key}={value!r} clashes with the dependency or folder {as_module!r}")


def check_answers(answers: dict) -> None:
    for key in FREE_TEXT:
        check_free_text(key, answers[key])
    check_name(
        "project_slug", answers["project_slug"], SLUG_RULE,
        "lowercase ASCII letters, digits and single hyphens, starting with a letter",
    )
    check_name(
        "package_name", answers["package_name"], PACKAGE_RULE,
        "a lowercase ASCII identifier (letters, digits, underscores; starting with a letter)",
    )
    if not EMAIL_RULE.fullmatch(answers["author_email"]):
        raise Refused(f"author_email={answers['author_email']!r} is not an e-mail address")
    if not isinstance(answers["git_init"], bool):
        raise Refused(f"git_init={answers['git_init']!r} must be yes or no")


def check_layers(answers: dict) -> None:
    layers_manifest = manifest.load(TEMPLATE_DIR)
    stage = str(answers["maturity_stage"])
    layers = manifest.enabled_layers(layers_manifest, answers)
    for layer, lacking in manifest.missing_requirements(layers_manifest, layers).items():
        raise Refused(
            f"{manifest.switch_name(layer)} needs layer(s) {', '.join(lacking)}, which are off "
            f"at maturity_stage={stage}: switch them on or choose a higher stage"
        )
    unused = manifest.unused_choices(layers_manifest, answers, layers)
    if unused:
        key, layer = next(iter(unused.items()))
        raise Refused(
            f"{key}={answers[key]} needs layer {layer}, which is off at maturity_stage={stage}: "
            f"switch it on ({manifest.switch_name(layer)}=on) or leave {key} at its default"
        )
    missing = manifest.unbuilt(layers_manifest, layers)
    if missing:
        name = layers_manifest["stages"][stage]["name"]
        raise Refused(
            f"maturity_stage={stage} ({name}) with these switches needs layer(s) this template "
            f"version has not built yet: {', '.join(missing)}; choose maturity_stage=1 or "
            "switch them off"
        )


def main() -> int:
    try:
        check_answers(CONTEXT)
        check_layers(CONTEXT)
    except Refused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
{% endraw %}
