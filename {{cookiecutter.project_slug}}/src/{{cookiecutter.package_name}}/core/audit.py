"""The audit log's hash chain: canonical JSON, record hashes, and ``verify``.

Each record is ``{"seq", "time", "kind", "payload", "prev_hash", "hash"}``; ``hash`` is the SHA-256
of ``prev_hash`` followed by the canonical JSON of the record without ``hash``. Editing a record
breaks its hash; removing or reordering records breaks the ``seq`` run or the ``prev_hash`` link;
so ``verify`` names the first record that is not where, or what, the chain says. Pure: lines in,
verdict out (io/audit_log.py reads and writes the files).

A chain starts at seq 1 after ``GENESIS``, or, once retention deleted old files, after an anchor
(the seq and hash of the last deleted record), which a "retention" record in the chain confirms.
"""

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

GENESIS = "0" * 64
RETENTION = "retention"
FIELDS = ("seq", "time", "kind", "payload", "prev_hash", "hash")


def canonical(document: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8, no NaN or infinity."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def plain(value: Any) -> Any:
    """``value`` as strict JSON can hold it: NaN and infinity become null, numpy scalars
    Python numbers, paths strings, tuples lists. Anything else that JSON lacks is refused."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, PurePath):
        return str(value)
    if callable(getattr(value, "item", None)):  # a numpy scalar
        return plain(value.item())
    raise TypeError(f"the audit log holds JSON values, not {type(value).__name__}")


def input_hash(features: dict) -> str:
    """What the log keeps of a model input: the SHA-256 of its canonical JSON, not the values."""
    return hashlib.sha256(canonical(features)).hexdigest()


def record_hash(record: dict) -> str:
    """The hash a record must carry: over its ``prev_hash`` and its content without ``hash``."""
    content = {key: value for key, value in record.items() if key != "hash"}
    return _hash(str(record["prev_hash"]), canonical(content))


def _hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("utf-8") + content).hexdigest()


def chain_lines(
    seq: int, prev_hash: str, time: str, kind: str, payloads: Sequence[dict]
) -> tuple[bytes, int, str]:
    """JSON lines of the records for ``payloads`` that continue a chain whose last record is
    (seq, prev_hash); and the new last seq and hash. Each line is the record's canonical JSON."""
    lines = []
    for offset, payload in enumerate(payloads, start=1):
        record = {"seq": seq + offset, "time": time, "kind": kind, "payload": payload}
        content = canonical({**record, "prev_hash": prev_hash})
        prev_hash = _hash(prev_hash, content)
        # "hash" sorts before every other key: the canonical record is the content with it first
        # (one encoding per record instead of two: this runs once per prediction).
        lines.append(b'{"hash":"' + prev_hash.encode("utf-8") + b'",' + content[1:] + b"\n")
    return b"".join(lines), seq + len(payloads), prev_hash


def chain(seq: int, prev_hash: str, time: str, kind: str, payloads: Sequence[dict]) -> list[dict]:
    """The records ``chain_lines`` writes, as dicts."""
    data, _, _ = chain_lines(seq, prev_hash, time, kind, payloads)
    return [json.loads(line) for line in data.splitlines()]


@dataclass(frozen=True)
class Anchor:
    """Where a pruned chain resumes: the last deleted record, and the last day deleted."""

    seq: int
    hash: str
    through: str  # YYYY-MM-DD: files of this day and before are gone

    def to_dict(self) -> dict:
        return {"seq": self.seq, "hash": self.hash, "through": self.through}


@dataclass(frozen=True)
class Line:
    """One line of a log file, as read: where it is, and its text."""

    file: str
    number: int
    text: str


@dataclass(frozen=True)
class Problem:
    """The first record that breaks the chain, and what is wrong with it."""

    file: str
    line: int
    seq: int | None
    reason: str

    def __str__(self) -> str:
        seq = f"seq {self.seq}" if self.seq is not None else "seq unknown"
        return f"{self.file}:{self.line} ({seq}): {self.reason}"


@dataclass(frozen=True)
class Verdict:
    records: int
    first_seq: int | None
    last_seq: int | None
    head: str  # hash of the last record: keep it elsewhere to detect a cut-off tail
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(lines: Iterable[Line], anchor: Anchor | None = None) -> Verdict:
    """Check the chain line by line, in file order; stop at the first bad record and say why.

    Streams: memory stays flat however long the log is.
    """
    walk = _Walk(anchor)
    rest = iter(lines)
    for line in rest:
        record, reason = _parse(line.text)
        if record is None:
            return walk.verdict(Problem(line.file, line.number, None, reason))
        if reason := _link_problem(record, walk.seq, walk.head, rest):
            return walk.verdict(Problem(line.file, line.number, record["seq"], reason))
        walk.take(record)
    if anchor is not None and not walk.confirmed:
        reason = "no retention record in the log confirms this anchor"
        return walk.verdict(Problem("anchor.json", 1, anchor.seq, reason))
    return walk.verdict()


class _Walk:
    """The chain read so far: the last good record and whether the anchor was confirmed."""

    def __init__(self, anchor: Anchor | None):
        self.anchor = anchor
        self.seq, self.head = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
        self.first: int | None = None
        self.count = 0
        self.confirmed = False

    def take(self, record: dict) -> None:
        self.seq, self.head, self.count = record["seq"], record["hash"], self.count + 1
        self.first = self.first or self.seq
        payload = record["payload"]
        if record["kind"] == RETENTION and self.anchor and isinstance(payload, dict):
            self.confirmed |= payload.get("anchor") == self.anchor.to_dict()

    def verdict(self, problem: Problem | None = None) -> Verdict:
        last = self.seq if self.count else None
        return Verdict(self.count, self.first, last, self.head, problem)


def _parse(text: str) -> tuple[dict | None, str]:
    try:
        record = json.loads(text)
    except ValueError:
        return None, "not a JSON record (a torn or edited line)"
    if not isinstance(record, dict) or any(name not in record for name in FIELDS):
        return None, f"not an audit record (needs {', '.join(FIELDS)})"
    if not isinstance(record["seq"], int) or not isinstance(record["hash"], str):
        return None, "not an audit record (seq must be a number, hash a string)"
    return record, ""


def _link_problem(record: dict, seq: int, head: str, rest: Iterator[Line]) -> str:
    """Why ``record`` cannot follow the record (seq, head); "" when it can. ``rest`` (the lines
    after it) is read only to tell a reordering from a removal."""
    expected = seq + 1
    if record["seq"] < expected:
        return f"reordered or duplicated: seq {record['seq']} after seq {seq}"
    if record["seq"] > expected:
        if any(_seq(line) == expected for line in rest):
            return f"reordered: seq {expected} should come next but appears later"
        gap = str(expected) if record["seq"] == expected + 1 else f"{expected}-{record['seq'] - 1}"
        return f"removed: seq {gap} missing before this record"
    if record_hash(record) != record["hash"]:
        return "edited: the hash does not match the record's content"
    if record["prev_hash"] != head:
        return f"removed or replaced: prev_hash is not the hash of seq {seq}"
    return ""


def _seq(line: Line) -> int | None:
    record, _ = _parse(line.text)
    return record["seq"] if record else None
