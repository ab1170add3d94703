"""Check Jenkinsfiles without a Jenkins: Groovy syntax, then the declarative pipeline's shape.

Syntax: npm-groovy-lint (npm, pinned in tests/validators/package-lock.json) parses each file with
the Groovy compiler and lints it with CodeNarc (rules: tests/validators/.groovylintrc.json); it
runs on java. A declarative pipeline is valid Groovy whatever its sections say, so
``declarative_problems`` adds the rules Jenkins applies when it loads one: known section and
directive names, each stage with exactly one of steps, stages, parallel or matrix, unique stage
names, an agent for every stage that runs steps.
"""

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PIPELINE_SECTIONS = {
    "agent",
    "environment",
    "libraries",
    "options",
    "parameters",
    "post",
    "stages",
    "tools",
    "triggers",
}
STAGE_SECTIONS = {
    "agent",
    "environment",
    "failFast",
    "input",
    "matrix",
    "options",
    "parallel",
    "post",
    "stages",
    "steps",
    "tools",
    "when",
}
STAGE_BODIES = {"steps", "stages", "parallel", "matrix"}
AGENT_TYPES = {"any", "none", "label", "node", "docker", "dockerfile", "kubernetes"}
POST_CONDITIONS = {
    "always",
    "changed",
    "fixed",
    "regression",
    "aborted",
    "failure",
    "success",
    "unstable",
    "unsuccessful",
    "notBuilt",
    "cleanup",
}
WHEN_CONDITIONS = {
    "branch",
    "buildingTag",
    "changelog",
    "changeset",
    "changeRequest",
    "environment",
    "equals",
    "expression",
    "tag",
    "not",
    "allOf",
    "anyOf",
    "triggeredBy",
    "beforeAgent",
    "beforeInput",
    "beforeOptions",
}
INPUT_PARAMETERS = {"message", "id", "ok", "submitter", "submitterParameter", "parameters"}
TOKEN = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<string>'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")
    |(?P<word>[A-Za-z_$][\w$]*)
    |(?P<newline>\n)
    |(?P<space>[ \t\r]+)
    |(?P<other>.)""",
    re.DOTALL | re.VERBOSE,
)


@dataclass
class Entry:
    """One statement of a block: ``name (args) { children }`` or ``name rest...``."""

    name: str
    line: int
    args: list[str] = field(default_factory=list)  # string literals inside the parentheses
    rest: list[str] = field(default_factory=list)  # the statement's other tokens
    children: list["Entry"] | None = None  # None: no block follows


def tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, line) of every token but spaces and comments."""
    found, line = [], 1
    for match in TOKEN.finditer(text):
        kind = match.lastgroup
        if kind not in {"comment", "space"}:
            found.append((kind, match.group(), line))
        line += match.group().count("\n")
    return found


def string_literals(text: str) -> list[str]:
    """The contents of every string literal (comments left out)."""
    values = [value for kind, value, _ in tokens(text) if kind == "string"]
    return [value[3:-3] if value[:3] in {"'''", '"""'} else value[1:-1] for value in values]


def parse(text: str) -> list[Entry]:
    """The statements of a Groovy file as nested blocks; raises ValueError on unbalanced ones."""
    stream = tokens(text)
    entries, end = _block(stream, 0)
    if end != len(stream):
        raise ValueError(f"line {stream[end][2]}: unexpected {stream[end][1]!r}")
    return entries


def _block(stream: list, at: int) -> tuple[list[Entry], int]:
    """Statements from ``at`` to the closing brace of this block (exclusive)."""
    entries: list[Entry] = []
    start_of_statement = True
    while at < len(stream) and stream[at][1] != "}":
        kind, value, line = stream[at]
        if kind == "newline" or value == ";":
            start_of_statement, at = True, at + 1
            continue
        if start_of_statement and kind == "word":
            entry = Entry(value, line)
            entries.append(entry)
            at += 1
            if at < len(stream) and stream[at][1] == "(":
                inner, at = _balanced(stream, at, "(", ")")
                entry.args = [v[1:-1] for k, v, _ in inner if k == "string"]
            at = _statement_rest(stream, at, entry)
            start_of_statement = True
            continue
        if value == "{":  # a block that belongs to no named statement
            _, at = _closure(stream, at)
        else:
            at += 1
        start_of_statement = False
    return entries, at


def _statement_rest(stream: list, at: int, entry: Entry) -> int:
    """Consume the rest of a statement; a block at its end becomes ``entry.children``."""
    while at < len(stream):
        kind, value, _ = stream[at]
        if kind == "newline" or value in {";", "}"}:
            return at
        if value == "{":
            entry.children, at = _closure(stream, at)
            return at
        if value in {"(", "["}:
            inner, at = _balanced(stream, at, value, ")" if value == "(" else "]")
            entry.rest += [v for _, v, _ in inner]
            continue
        entry.rest.append(value)
        at += 1
    return at


def _closure(stream: list, at: int) -> tuple[list[Entry], int]:
    children, at = _block(stream, at + 1)
    if at >= len(stream):
        raise ValueError(f"line {stream[-1][2]}: a block is never closed")
    return children, at + 1


def _balanced(stream: list, at: int, opening: str, closing: str) -> tuple[list, int]:
    depth, start = 0, at
    while at < len(stream):
        value = stream[at][1]
        depth += (value == opening) - (value == closing)
        at += 1
        if depth == 0:
            return stream[start + 1 : at - 1], at
    raise ValueError(f"line {stream[start][2]}: {opening!r} is never closed")


def declarative_problems(text: str) -> list[str]:
    """What Jenkins would reject when loading this declarative pipeline ([] when nothing)."""
    try:
        top = parse(text)
    except ValueError as error:
        return [str(error)]
    if [entry.name for entry in top] != ["pipeline"] or top[0].children is None:
        return ["the file must hold exactly one `pipeline { ... }` block"]
    pipeline = top[0]
    problems = _sections(pipeline, PIPELINE_SECTIONS, "pipeline")
    names = {entry.name for entry in pipeline.children}
    problems += [f"pipeline: no {need}" for need in ("agent", "stages") if need not in names]
    agent_none = any(e.name == "agent" and e.rest == ["none"] for e in pipeline.children)
    seen: list[str] = []
    for entry in pipeline.children:
        problems += _section(entry, "pipeline", seen, has_agent=not agent_none)
    duplicates = sorted({name for name in seen if seen.count(name) > 1})
    problems += [f"stage names used twice: {duplicates}"] if duplicates else []
    return problems


def _sections(owner: Entry, allowed: set[str], where: str) -> list[str]:
    names = [entry.name for entry in owner.children or []]
    problems = [f"{where}: unknown section {name!r}" for name in names if name not in allowed]
    twice = sorted({name for name in names if names.count(name) > 1})
    return problems + ([f"{where}: {twice} given twice"] if twice else [])


def _section(entry: Entry, where: str, seen: list[str], has_agent: bool) -> list[str]:
    here = f"{where} > {entry.name}"
    if entry.name == "agent":
        return _agent(entry, here)
    if entry.name == "stages":
        return _stages(entry, here, seen, has_agent)
    if entry.children is None and entry.name not in {"failFast"}:
        return [f"{here}: needs a {{ ... }} block"]
    if entry.name == "post":
        problems = _sections(entry, POST_CONDITIONS, here)
        return problems + [f"{here} > {c.name}: empty" for c in entry.children if not c.children]
    if entry.name == "when":
        return _sections(entry, WHEN_CONDITIONS, here)
    if entry.name == "input":
        problems = _sections(entry, INPUT_PARAMETERS, here)
        has_message = any(child.name == "message" for child in entry.children)
        return problems + ([] if has_message else [f"{here}: no message"])
    if entry.name == "environment":
        return [
            f"{here}: {child.name} is not `NAME = value`"
            for child in entry.children
            if not child.rest or child.rest[0] != "="
        ]
    return []


def _agent(entry: Entry, here: str) -> list[str]:
    kinds = [child.name for child in entry.children] if entry.children else entry.rest[:1]
    if len(kinds) != 1 or kinds[0] not in AGENT_TYPES:
        return [f"{here}: expected one of {sorted(AGENT_TYPES)}, got {kinds}"]
    return []


def _stages(entry: Entry, here: str, seen: list[str], has_agent: bool) -> list[str]:
    if not entry.children:
        return [f"{here}: no stage"]
    problems = []
    for stage in entry.children:
        if stage.name != "stage" or len(stage.args) != 1 or stage.children is None:
            problems.append(f"{here}: expected `stage('name') {{ ... }}`, got {stage.name!r}")
            continue
        seen.append(stage.args[0])
        problems += _stage(stage, f"{here} > stage {stage.args[0]!r}", seen, has_agent)
    return problems


def _stage(stage: Entry, here: str, seen: list[str], has_agent: bool) -> list[str]:
    problems = _sections(stage, STAGE_SECTIONS, here)
    bodies = [child for child in stage.children if child.name in STAGE_BODIES]
    if len(bodies) != 1:
        problems.append(f"{here}: needs exactly one of {sorted(STAGE_BODIES)}")
    has_agent = has_agent or any(child.name == "agent" for child in stage.children)
    for child in stage.children:
        if child.name == "steps":
            if not child.children:
                problems.append(f"{here} > steps: empty")
            if not has_agent:
                problems.append(f"{here}: steps without an agent (the pipeline's is none)")
        elif child.name == "parallel":
            problems += _stages(child, f"{here} > parallel", seen, has_agent)
        else:
            problems += _section(child, here, seen, has_agent)
    return problems


def stage_names(text: str) -> list[str]:
    """Every stage's name, nested ones included, in the order they are written."""
    names = []

    def walk(entries: list[Entry]) -> None:
        for entry in entries:
            if entry.name == "stage" and entry.args:
                names.append(entry.args[0])
            walk(entry.children or [])

    walk(parse(text))
    return names


def groovy_lint(folder: Path, config: Path, files: list[Path]) -> dict[Path, list[str]]:
    """npm-groovy-lint (installed in ``folder``) on ``files``: each file's errors and warnings."""
    done = subprocess.run(
        [
            str(folder / "node_modules" / ".bin" / "npm-groovy-lint"),
            "--noserver",  # no CodeNarc server left running in the background
            "--parse",
            "--config",
            str(config),
            "--output",
            "json",
            "--loglevel",
            "warning",
            "--failon",
            "warning",
            *map(str, files),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(
            f"npm-groovy-lint: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        ) from error
    linted = report["summary"]["totalFilesLinted"]
    if linted != len(files):
        raise RuntimeError(f"npm-groovy-lint linted {linted} of {len(files)} files: {done.stderr}")
    return {
        path: [
            f"{path.name}:{found['line']}: {found['rule']} {found['msg']}"
            for found in report["files"].get(str(path.resolve()), {}).get("errors", [])
        ]
        for path in files
    }
