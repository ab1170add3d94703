"""Is this project set up to work? Its stage and layers, the make targets each layer brings,
the environment against the lock, the GPU{% if cookiecutter|layer_enabled("tracking") %}, the tracking store{% endif %}{% if cookiecutter|layer_enabled("data") %}, git and the DVC remote{% endif %}.

One line per check, OK, INFO, WARN or FAIL; a FAIL is a broken setup (exit 1). `make doctor`
runs ``python -m {{ cookiecutter.package_name }}.jobs.doctor``, which imports only the standard
library up front: a missing or wrong-version package is reported, not a crash. Settings,
{% if cookiecutter|layer_enabled("tracking") %}MLflow, {% endif %}{% if cookiecutter|layer_enabled("data") %}DVC, {% endif %}torch load inside the checks that need them.
"""

import argparse
import importlib.util
import json
{%- if cookiecutter|layer_enabled("tracking") %}
import os
{%- endif %}
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import {% if cookiecutter|layer_enabled("tracking") %}TYPE_CHECKING, {% endif %}Any, Literal
{%- if cookiecutter|layer_enabled("tracking") %}
from urllib.parse import urlsplit
{%- endif %}

from ..core import layers as catalog
from ..core.lock import canonical, compare_to_lock, parse_lock
from ..io import probes
{%- if cookiecutter|layer_enabled("tracking") %}

if TYPE_CHECKING:  # at run time the settings load inside the check (pydantic may be missing)
    from ..settings import Settings
{%- endif %}

Status = Literal["OK", "INFO", "WARN", "FAIL"]
RECORD = ".template.json"
LOCK = Path("requirements") / "constraints.txt"
#: make setup installs only when pyproject.toml or the lock changed: this forces it.
SETUP_AGAIN = "rm -f .venv/.installed && make setup"


@dataclass(frozen=True)
class Check:
    group: str
    status: Status
    message: str


@dataclass(frozen=True)
class Record:
    """What .template.json says about the project."""

    stage: str
    layers: tuple[str, ...]
    answers: Mapping[str, Any]
    template: str


@dataclass(frozen=True)
class Report:
    root: Path
    record: Record | None
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.status != "FAIL" for check in self.checks)

    def lines(self) -> list[str]:
        lines = [f"doctor: {self.root}"]
        for group in dict.fromkeys(check.group for check in self.checks):
            lines.append(group)
            lines += [f"  {c.status:<5} {c.message}" for c in self.checks if c.group == group]
            if group == "project" and (record := self.record) is not None:
                described = catalog.describe(record.stage, record.layers, record.answers)
                lines += [f"  {line}" for line in described]
        failed = sum(check.status == "FAIL" for check in self.checks)
        warned = sum(check.status == "WARN" for check in self.checks)
        verdict = f"BROKEN: {failed} check(s) failed" if failed else "healthy"
        return [*lines, f"{verdict}, {warned} warning(s)"]

    def to_dict(self) -> dict[str, Any]:
        record = self.record or Record("", (), {}, "")
        absent = catalog.absent(record.layers) if self.record else []
        return {
            "root": str(self.root),
            "ok": self.ok,
            "stage": record.stage if self.record else None,
            "layers": {"present": list(record.layers), "absent": absent},
            "commands": catalog.commands_by_layer(record.layers, record.answers),
            "add": {
                layer: catalog.how_to_add(layer, record.layers, record.stage, record.answers)
                for layer in absent
            },
            "checks": [vars(check) for check in self.checks],
        }


def run(root: Path) -> Report:
    """Every check of the project in ``root`` (its top folder, where pyproject.toml is)."""
    if not (root / "pyproject.toml").is_file():
        message = f"no pyproject.toml in {root}: run the doctor in the project's top folder"
        return Report(root, None, (Check("project", "FAIL", message),))
    record, record_check = read_record(root)
    layers = record.layers if record else ()
    checks = [record_check]
    checks += guarded("environment", lambda: environment_checks(root))
    checks += guarded("hardware", lambda: [gpu_check(layers)])
    checks += service_checks(root, layers)
    return Report(root, record, tuple(checks))


def guarded(group: str, checks: Callable[[], list[Check]]) -> list[Check]:
    """The checks' results; a check that crashes is itself a failure, not the doctor's end."""
    try:
        return checks()
    except Exception as error:  # the doctor reports whatever broke, whatever it is
        return [Check(group, "FAIL", f"the {group} check crashed: {one_line(error)}")]


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def read_record(root: Path) -> tuple[Record | None, Check]:
    """The stage, layers and answers the project was generated with (.template.json)."""
    try:
        data = json.loads((root / RECORD).read_text(encoding="utf-8"))
        template = data.get("template") or {}
        commit = (template.get("commit") or "")[:7]
        record = Record(
            stage=str(data["answers"]["maturity_stage"]),
            layers=tuple(data["layers"]),
            answers=data["answers"],
            template=(template.get("version") or "?") + (f" ({commit})" if commit else ""),
        )
    except FileNotFoundError:
        message = f"no {RECORD}: stage and layers unknown (make upgrade needs it): restore it"
        return None, Check("project", "FAIL", message)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return None, Check("project", "FAIL", f"{RECORD} unreadable ({one_line(error)})")
    stage = f"stage {record.stage} ({catalog.STAGES.get(record.stage, 'unknown')})"
    unknown = [layer for layer in record.layers if layer not in catalog.BY_NAME]
    if unknown:
        message = f"{stage}; layers this doctor does not know: {', '.join(unknown)}"
        return record, Check("project", "WARN", message)
    return record, Check("project", "OK", f"{stage}, from template {record.template}")


# -- environment: Python and the locked dependencies ----------------------------------------


def environment_checks(root: Path) -> list[Check]:
    """Python's version, and every dependency make setup installs (the base and every group in
    pyproject.toml: the layers present) at its version in the lock."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    python = python_check(text)
    if python.status == "FAIL":  # tomllib (3.11) and the packages need the project's Python
        return [python]
    import tomllib

    project = tomllib.loads(text)["project"]
    groups = project.get("optional-dependencies", {})
    required = [*project.get("dependencies", [])]
    required += [spec for group in groups.values() for spec in group]
    locked = parse_lock((root / LOCK).read_text(encoding="utf-8"))
    installed = probes.installed_versions()
    checks = [python]
    checks += lock_checks(required, locked, installed, ["base", *groups])
    name = canonical(project["name"])
    if name in installed:
        checks.append(Check("environment", "OK", f"{name} {installed[name]} installed"))
    else:  # tests and the CLI import it from src/ (PYTHONPATH=src): not a failure
        message = f"{name} itself is not installed here (runs from src/); make setup installs it"
        checks.append(Check("environment", "INFO", message))
    return checks


def python_check(pyproject: str) -> Check:
    """This Python against pyproject.toml's requires-python (read without tomllib, which an
    older Python lacks)."""
    where = f"Python {'.'.join(map(str, sys.version_info[:3]))} ({sys.prefix})"
    minimum = re.search(r'requires-python\s*=\s*">=\s*(\d+)\.(\d+)', pyproject)
    if minimum and sys.version_info[:2] < (int(minimum[1]), int(minimum[2])):
        fix = f"rm -rf .venv && make setup PYTHON=python{minimum[1]}.{minimum[2]}"
        needs = f">={minimum[1]}.{minimum[2]}"
        return Check("environment", "FAIL", f"{where}; the project needs {needs}: {fix}")
    return Check("environment", "OK", where)


def lock_checks(
    required: list[str], locked: Mapping[str, str], installed: Mapping[str, str], groups: list[str]
) -> list[Check]:
    """FAIL per required package at another version than its pin, and for the missing ones;
    WARN for requirements without a pin and other packages off the lock."""
    diff = compare_to_lock(required, locked, installed)
    checks = [
        Check("environment", "FAIL", f"{name} {have} installed, locked {pin}: {SETUP_AGAIN}")
        for name, have, pin in diff.mismatched
    ]
    if diff.missing:
        pins = ", ".join(f"{name}=={locked[name]}" for name in diff.missing)
        count = f"{len(diff.missing)} of {len(diff.checked)}"
        checks.append(Check("environment", "FAIL", f"missing {count}: {pins}: {SETUP_AGAIN}"))
    if not diff.broken:
        pinned = len(diff.checked) - len(diff.unpinned)
        message = f"{pinned} dependencies ({', '.join(groups)}) at their locked versions"
        checks.append(Check("environment", "OK", message))
    if diff.unpinned:
        message = f"not in {LOCK.as_posix()}: {', '.join(diff.unpinned)}: add their pins"
        checks.append(Check("environment", "WARN", message))
    if diff.drifted:
        shown = ", ".join(f"{name} {have} (locked {pin})" for name, have, pin in diff.drifted[:8])
        more = f" and {len(diff.drifted) - 8} more" if len(diff.drifted) > 8 else ""
        message = f"other packages off the lock: {shown}{more}: {SETUP_AGAIN}"
        checks.append(Check("environment", "WARN", message))
    return checks


# -- hardware: the GPU, for information -----------------------------------------------------


def gpu_check(layers: tuple[str, ...]) -> Check:
    """Whether a GPU is visible: to torch with the training layer, else to nvidia-smi. Never a
    failure: every job runs on the CPU too."""
    gpus = probes.nvidia_smi_gpus()
    if "training" in layers and importlib.util.find_spec("torch") is not None:
        return torch_gpu_check(gpus)
    if gpus:
        return Check("hardware", "OK", f"GPU: {', '.join(gpus)} (nvidia-smi)")
    return Check("hardware", "INFO", "no GPU visible (nvidia-smi lists none, or is not installed)")


def torch_gpu_check(gpus: list[str]) -> Check:
    try:
        import torch
    except Exception as error:  # a broken install: anything can come out of it
        message = f"torch does not import ({one_line(error)}): {SETUP_AGAIN}"
        return Check("hardware", "WARN", message)
    version = torch.__version__
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
        message = f"GPU: {', '.join(names)} (torch {version}, CUDA {torch.version.cuda})"
        return Check("hardware", "OK", message)
    if gpus:
        message = (
            f"nvidia-smi lists {', '.join(gpus)} but torch {version} sees no CUDA device: a "
            "CPU-only torch build, or CUDA_VISIBLE_DEVICES hides it"
        )
        return Check("hardware", "WARN", message)
    return Check("hardware", "INFO", f"no GPU visible (torch {version}): training uses the CPU")


# -- services of the layers present ---------------------------------------------------------


def service_checks(root: Path, layers: tuple[str, ...]) -> list[Check]:
    checks: list[Check] = []
{%- if cookiecutter|layer_enabled("tracking") %}
    if "tracking" in layers:
        checks += guarded("services", lambda: [tracking_check(root)])
{%- endif %}
{%- if cookiecutter|layer_enabled("data") %}
    if "data" in layers:
        checks += guarded("services", lambda: [git_check(root)])
        checks += guarded("services", lambda: [dvc_remote_check(root)])
{%- endif %}
    return checks or [Check("services", "INFO", "none: no layer present needs a service")]
{%- if cookiecutter|layer_enabled("tracking") or cookiecutter|layer_enabled("data") %}


def writable_check(label: str, target: Path, created_by: str) -> Check:
    """A folder or file that exists, or can be created, and can be written."""
    if (refusing := probes.unwritable(target)) is not None:
        return Check("services", "FAIL", f"{label}: {target}: {refusing} is not writable")
    if target.exists():
        return Check("services", "OK", f"{label}: {target}")
    return Check("services", "OK", f"{label}: {target} (not there yet: {created_by} creates it)")


def masked(uri: str) -> str:
    """``uri`` with its user and password hidden (``https://***@host``); io.tracking.safe_uri
    does the same, but importing that module loads mlflow, which a broken environment lacks."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", uri)
{%- endif %}
{%- if cookiecutter|layer_enabled("tracking") %}


def tracking_check(root: Path) -> Check:
    """The store the jobs would use: a server answers /health; a local store can be written."""
    try:
        from ..settings import Settings

        settings = Settings(_env_file=root / ".env")
    except Exception as error:  # a missing package or a setting that does not validate
        return Check("services", "FAIL", f"tracking: the settings do not load ({one_line(error)})")
    uri = configured_server(settings)
    if uri is None:
        store = root / settings.mlflow_dir / "mlflow.db"
        return writable_check("tracking: embedded SQLite store", store, "the first run")
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https"):
        return tracking_server_check(settings, uri)
    if scheme == "sqlite":
        store = root / uri.removeprefix("sqlite:///")
        return writable_check("tracking: SQLite store", store, "the first run")
    if scheme in ("", "file"):
        store = root / (urlsplit(uri).path if scheme else uri)
        return writable_check("tracking: file store", store, "the first run")
    return Check("services", "INFO", f"tracking store {masked(uri)}: not checked")


def configured_server(settings: "Settings") -> str | None:
    """The tracking URI as io.tracking.server_uri resolves it (that module loads mlflow, which
    only a server needs); None: the embedded store."""
    return settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None


def tracking_server_check(settings: "Settings", uri: str) -> Check:
    """One /health request through the project's own probe (its TLS and credential settings)."""
    try:
        from ..io.tracking import TrackingError, check_server
    except Exception as error:  # mlflow missing or broken: the environment check names it
        return Check("services", "FAIL", f"tracking: mlflow does not import ({one_line(error)})")
    try:
        check_server(settings.model_copy(update={"tracking_retries": 0}))
    except TrackingError as error:  # names the URI, the cause and what to do
        return Check("services", "FAIL", str(error))
    return Check("services", "OK", f"tracking server {masked(uri)} answers /health")
{%- endif %}
{%- if cookiecutter|layer_enabled("data") %}


def git_check(root: Path) -> Check:
    """DVC needs a git repository (make run is dvc repro); a project generated with git_init=no
    has none yet."""
    inside = probes.inside_git_repo(root)
    if inside is None:
        return Check("services", "FAIL", "git is not installed: DVC needs it (make run)")
    if inside:
        return Check("services", "OK", "git repository (DVC versions the data in it)")
    message = (
        "not a git repository yet (generated with git_init=no?): DVC needs one, so make run "
        "fails until `git init && git add -A && git commit -m 'First commit'`"
    )
    return Check("services", "FAIL", message)


def dvc_remote_check(root: Path) -> Check:
    """A default DVC remote is configured, and DVC has what its kind of storage needs."""
    try:
        from dvc.fs import get_fs_cls

        from ..io.dvc_remote import RemoteError, default_remote
    except Exception as error:  # dvc missing or broken: the environment check names it
        return Check("services", "FAIL", f"DVC remote: dvc does not import ({one_line(error)})")
    try:
        remote = default_remote(root)
    except RemoteError as error:
        return Check("services", "FAIL", f"DVC remote: {error}")
    label = f"DVC remote {remote.name!r}"
    if remote.is_folder:
        return writable_check(f"{label}, a folder", remote.folder, "the first make push")
    try:
        get_fs_cls({"url": remote.url})
    except ImportError as error:  # "s3 is supported, but requires 'dvc-s3' to be installed"
        fix = "add it to the data extra in pyproject.toml with its pin, then make setup"
        return Check("services", "FAIL", f"{label} {masked(remote.url)}: {error}: {fix}")
    message = f"{label} {masked(remote.url)} (credentials and access: dvc push tells)"
    return Check("services", "OK", message)
{%- endif %}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make doctor",
        description="Check the setup of the project in the current folder; exit 1 if broken.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run(Path.cwd())
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
