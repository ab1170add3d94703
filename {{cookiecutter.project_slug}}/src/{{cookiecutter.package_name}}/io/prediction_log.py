"""Append-only prediction log: one JSON line per prediction, in files rotated by UTC day and size.

The prediction server appends what it answered; monitoring (drift) jobs read it back. Each
``append`` is one ``os.write`` to a file opened with ``O_APPEND``: once it returns, the lines are
in the kernel, so a killed server loses nothing it already answered, and several processes may
append to the same files (on a local filesystem, not NFS). There is no fsync per call, so a power
failure may lose the last seconds; call ``fsync`` where that matters.

Files are ``predictions-YYYY-MM-DD.jsonl``, then ``predictions-YYYY-MM-DD.1.jsonl``, ``.2`` ...
"""

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec

FILE_NAME = re.compile(r"predictions-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl")
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT
#: Encodes dicts and msgspec structs (the server's records) alike, all lines in one C call.
_ENCODER = msgspec.json.Encoder()


def utc_now() -> datetime:
    return datetime.now(UTC)


def file_name(day: date, sequence: int) -> str:
    suffix = f".{sequence}" if sequence else ""
    return f"predictions-{day.isoformat()}{suffix}.jsonl"


def log_files(folder: Path) -> list[tuple[date, int, Path]]:
    """The log files in a folder as (day, sequence, path), oldest first (numeric, not lexical)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if match := FILE_NAME.fullmatch(path.name):
            found.append((date.fromisoformat(match[1]), int(match[2] or 0), path))
    return sorted(found)


class PredictionLog:
    """Appends records as JSON lines; thread safe, and safe to share a folder between processes.

    ``max_bytes`` is a soft limit: the append that reaches it still goes to the current file, and
    as each process counts only its own bytes, P processes may grow a file to about P times it.
    ``clock`` must return aware datetimes; its UTC day picks the file. Create one per process,
    after any fork: a lock copied while another thread held it would stay locked.
    """

    def __init__(
        self, folder: Path, max_bytes: int = 100 * 2**20, clock: Callable[[], datetime] = utc_now
    ):
        self.folder, self.max_bytes, self.clock = folder, max_bytes, clock
        self.path: Path | None = None
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._day: date | None = None
        self._size = 0

    def append(self, records: Sequence) -> None:
        """Write the records (dicts or msgspec structs) in one system call; they are in the
        kernel when this returns."""
        if not records:
            return
        data = _ENCODER.encode_lines(records)
        with self._lock:
            day = self.clock().astimezone(UTC).date()
            fd = self._fd
            if fd is None or day != self._day or self._size >= self.max_bytes:
                fd = self._open(day)
            try:
                self._size += _write_all(fd, data)
            except OSError:
                # Part of a line may be on disk (disk full): reopening ends it with a newline.
                self._close()
                raise

    def fsync(self) -> None:
        """Push what was appended to the disk, so it survives a power failure too."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        """Close the current file; a later append opens it again."""
        with self._lock:
            self._close()

    def __enter__(self) -> "PredictionLog":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self, day: date) -> int:
        """Continue the day's newest file below the limit, else start the next one; its fd."""
        self._close()
        self.folder.mkdir(parents=True, exist_ok=True)
        sequence = max((seq for d, seq, _ in log_files(self.folder) if d == day), default=0)
        while True:
            path = self.folder / file_name(day, sequence)
            fd = os.open(path, _FLAGS, 0o644)
            size = os.fstat(fd).st_size
            if size < self.max_bytes or size == 0:  # a new file always takes the append
                break
            os.close(fd)
            sequence += 1
        # A killed writer may have left a torn line: end it, so the next record is not glued on.
        if size and _last_byte(path, size) != b"\n":
            size += _write_all(fd, b"\n")
        self._fd, self._day, self._size, self.path = fd, day, size, path
        return fd


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:  # the append descriptor is write-only
        handle.seek(size - 1)
        return handle.read(1)


def _write_all(fd: int, data: bytes | bytearray) -> int:
    written = os.write(fd, data)
    while written < len(data):  # a short write (rare): write the rest after it
        written += os.write(fd, memoryview(data)[written:])
    return written


@dataclass
class PredictionRead:
    records: list[dict] = field(default_factory=list)
    #: Lines skipped: not a JSON object, or a last line still without its newline.
    torn: int = 0


class PredictionReader:
    """Iterates the records of every log file in order; ``torn`` counts the lines skipped."""

    def __init__(self, folder: Path):
        self.folder, self.torn = folder, 0

    def __iter__(self) -> Iterator[dict]:
        for _, _, path in log_files(self.folder):
            with path.open("rb") as handle:
                for line in handle:
                    if (record := self._parse(line)) is not None:
                        yield record

    def _parse(self, line: bytes) -> dict | None:
        if line == b"\n":  # an empty line carries no record (two writers repaired one tear)
            return None
        with contextlib.suppress(msgspec.DecodeError):
            record = msgspec.json.decode(line)
            if isinstance(record, dict) and line.endswith(b"\n"):
                return record
        self.torn += 1
        return None


def read_predictions(folder: Path) -> PredictionRead:
    """All records of a log folder, oldest first; a missing folder reads as empty."""
    reader = PredictionReader(folder)
    return PredictionRead(list(reader), reader.torn)
