"""The template's side of an upgrade: find its history, export a version, render it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MANIFEST_FILE = "layers.json"
TEMPLATE_CONFIG = "cookiecutter.json"
# The post-generation hook's rule for which template sources are worth recording.
REMOTE_PREFIXES = ("gh:", "gl:", "bb:", "git+", "git@", "https://", "http://", "ssh://")


class UpgradeError(Exception):
    """The upgrade cannot go on; the message says why and what to do."""


@dataclass
class TemplateSource:
    """Where the template's versions come from: a local checkout, or a clone of a remote."""

    recorded: str | None  # the source to record in .template.json (a remote, never a path)
    repo: Path | None  # a git repository with the template's history
    prefix: str  # the template's folder inside that repository ("" at its top)
    checkout: Path | None  # a local checkout: its files as they are are the default target


def executable(name: str) -> str:
    """The absolute path of the command ``name`` on PATH; an error naming it when missing."""
    found = shutil.which(name)
    if found is None:
        raise UpgradeError(f"{name} is not on PATH: install it, then run the upgrade again")
    return found


def git(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # S603 waived: git by its absolute path, with arguments of ours and no shell.
    result = subprocess.run(  # noqa: S603
        [executable("git"), *args], cwd=folder, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise UpgradeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def locate(spec: str | None, scratch: Path) -> TemplateSource:
    """Find the template's history: clone a remote, or use a local checkout in place."""
    if not spec:
        raise UpgradeError(
            ".template.json records no template source (it was generated from a local "
            "checkout): pass TEMPLATE=path/to/the/template or TEMPLATE=gh:org/repo"
        )
    url = remote_url(spec)
    if url:
        print(f"Fetching the template from {spec} ...", flush=True)
        repo = scratch / "template.git"
        cloned = git(scratch, "clone", "--quiet", "--bare", url, str(repo), check=False)
        if cloned.returncode != 0:
            raise UpgradeError(f"could not clone {url}: {cloned.stderr.strip()}")
        return TemplateSource(spec, repo, "", None)
    path = Path(spec).expanduser().resolve()
    if not (path / TEMPLATE_CONFIG).is_file():
        raise UpgradeError(f"{spec} is not a cookiecutter template (no {TEMPLATE_CONFIG} in it)")
    top = git(path, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        return TemplateSource(None, None, "", path)
    prefix = git(path, "rev-parse", "--show-prefix").stdout.strip().rstrip("/")
    origin = git(path, "config", "--get", "remote.origin.url", check=False).stdout.strip()
    recorded = origin if origin.startswith(REMOTE_PREFIXES) else None
    return TemplateSource(recorded, Path(top.stdout.strip()), prefix, path)


def remote_url(spec: str) -> str | None:
    """The git URL of a remote template source, read as cookiecutter reads it; None for a path."""
    from cookiecutter.config import BUILTIN_ABBREVIATIONS
    from cookiecutter.repository import expand_abbreviations, is_repo_url

    url = expand_abbreviations(spec, BUILTIN_ABBREVIATIONS)
    return url.removeprefix("git+") if is_repo_url(url) else None


def export(source: TemplateSource, ref: str | None, folder: Path) -> tuple[Path, str | None]:
    """The template's files at ``ref``, and their commit (no ref: a checkout as it is)."""
    if ref is None and source.checkout is not None:
        head = git(source.checkout, "rev-parse", "--verify", "-q", "HEAD", check=False)
        return source.checkout, head.stdout.strip() or None
    if source.repo is None:
        raise UpgradeError(
            f"the template at {source.checkout} is not a git repository, so its version "
            f"{ref} cannot be rendered: use a git checkout of the template"
        )
    wanted = f"{ref or 'HEAD'}^{{commit}}"
    found = git(source.repo, "rev-parse", "--verify", "-q", wanted, check=False)
    if found.returncode != 0:
        raise UpgradeError(f"{ref} is not in the template's history ({source.repo})")
    commit = found.stdout.strip()
    archive = folder.with_suffix(".tar")
    tree = f"{commit}:{source.prefix}" if source.prefix else commit
    git(source.repo, "archive", "--format=tar", "-o", str(archive), tree)
    folder.mkdir()
    with tarfile.open(archive) as files:
        files.extractall(folder, filter="data")  # no member may land outside the folder
    return folder, commit


def read_manifest(template: Path) -> dict:
    path = template / MANIFEST_FILE
    if not path.is_file():
        raise UpgradeError(f"the template has no {MANIFEST_FILE}: it is not this layered template")
    return json.loads(path.read_text(encoding="utf-8"))


def new_answers(
    answers: dict, stage: str | None, layers: str, manifest: dict, choices: Sequence[str] = ()
) -> dict:
    """The recorded answers with another stage, the layer switches and the choices asked for."""
    answers = dict(answers)
    if stage:
        if stage not in manifest["stages"]:
            stages = ", ".join(manifest["stages"])
            raise UpgradeError(f"STAGE={stage} is not a maturity stage: choose one of {stages}")
        answers["maturity_stage"] = stage
    for item in filter(None, (part.strip() for part in layers.split(","))):
        name = item.removeprefix("-")
        if name not in manifest["layers"]:
            known = ", ".join(manifest["layers"])
            raise UpgradeError(f"LAYERS: unknown layer {name!r}; the layers are {known}")
        answers[f"layer_{name}"] = "off" if item.startswith("-") else "on"
    for item in choices:
        key, value = parse_choice(item, manifest.get("choices", {}))
        answers[key] = value
    return answers


def parse_choice(item: str, choices: dict) -> tuple[str, str]:
    """``key=value`` for one generation-time choice (orchestrator=kubeflow), checked."""
    key, _, value = item.partition("=")
    key, value = key.strip(), value.strip()
    if key not in choices:
        known = ", ".join(choices) or "none in this template version"
        raise UpgradeError(f"SET: {item!r} is not a choice=answer; the choices are {known}")
    options = ", ".join(choices[key]["options"])
    if value not in choices[key]["options"]:
        raise UpgradeError(f"SET: {key}={value!r} is not an answer; choose one of {options}")
    return key, value


def render(template: Path, answers: dict, output: Path, scratch: Path) -> Path:
    """Generate the project from ``template`` with ``answers``; git init stays off."""
    config = scratch / "cookiecutter.yaml"  # not ~/.cookiecutterrc; replay files stay here
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(scratch / 'cookiecutters'))}\n"
        f"replay_dir: {json.dumps(str(scratch / 'replay'))}\n",
        encoding="utf-8",
    )
    values = [f"{key}={as_answer(value)}" for key, value in answers.items() if key != "git_init"]
    output.mkdir()
    # S603 waived: this Python's cookiecutter, the answers as arguments, no shell.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "cookiecutter", str(template), "--no-input", "--config-file",
         str(config), "--output-dir", str(output), "git_init=no", *values],
        cwd=scratch, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        reason = reason.removeprefix("error: ")
        raise UpgradeError(f"the template refused to render these answers: {reason}")
    (project,) = [path for path in output.iterdir() if path.is_dir()]
    return project


def as_answer(value: object) -> str:
    """An answer as cookiecutter's command line takes it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
