"""The audit log on disk: hash-chained JSON lines in files rotated by UTC day.

``audit-YYYY-MM-DD.jsonl`` files hold the chain (core/audit.py) in order; ``anchor.json`` says
where it resumes once retention deleted old files. Every ``append`` holds an exclusive
``flock`` on ``.lock`` while it reads the chain's head and writes, so threads and several server
processes extend one chain (local filesystems; flock is unreliable on NFS). One ``os.write`` per
call, on a descriptor opened with ``O_APPEND``; in durable mode ``fsync`` before returning, so a
prediction is acknowledged only once its record is on disk.
"""

import contextlib
import fcntl
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..core.audit import GENESIS, RETENTION, Anchor, Line, canonical, chain_lines, plain
from ..settings import Settings

FILE_NAME = re.compile(r"audit-(\d{4}-\d{2}-\d{2})\.jsonl")
ANCHOR_FILE = "anchor.json"
LOCK_FILE = ".lock"
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT
_TAIL_BLOCK = 1 << 16


class AuditLogError(RuntimeError):
    """The log cannot be continued (its last record is unreadable) or pruned; says which file."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_audit_log(settings: Settings) -> "AuditLog":
    """The project's audit log (``audit_log_dir``), durable if ``audit_durable`` is set."""
    return AuditLog(settings.audit_log_dir, durable=settings.audit_durable)


def log_files(folder: Path) -> list[tuple[date, Path]]:
    """The day files of a log folder, oldest first."""
    if not folder.is_dir():
        return []
    found = [
        (date.fromisoformat(match[1]), path)
        for path in folder.iterdir()
        if (match := FILE_NAME.fullmatch(path.name))
    ]
    return sorted(found)


def read_anchor(folder: Path) -> Anchor | None:
    path = folder / ANCHOR_FILE
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    return Anchor(int(document["seq"]), str(document["hash"]), str(document["through"]))


def read_lines(folder: Path) -> Iterator[Line]:
    """Every line of the chain, in order. Skipped: files retention cut off (up to the anchor's
    day; a crash may have left them behind), and an unfinished last line (a write in progress:
    readers take no lock, so that verifying never stalls the server)."""
    anchor = read_anchor(folder)
    files = [
        path
        for day, path in log_files(folder)
        if anchor is None or day > date.fromisoformat(anchor.through)
    ]
    for path in files:
        with path.open(encoding="utf-8", errors="replace", newline="\n") as handle:
            for number, text in enumerate(handle, start=1):
                if text.endswith("\n") or path != files[-1]:
                    yield Line(path.name, number, text)


@dataclass(frozen=True)
class PruneResult:
    deleted: list[str]
    anchor: Anchor | None


class AuditLog:
    """Appends hash-chained records. Thread safe, and safe to share between processes.

    The chain's head (last seq and hash) stays in memory; it is read again from the files only
    when they changed behind this writer (another process appended, or the day turned).
    Create one per process, after any fork.
    """

    def __init__(
        self, folder: Path, durable: bool = False, clock: Callable[[], datetime] = utc_now
    ):
        self.folder, self.durable, self.clock = Path(folder), durable, clock
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._path: Path | None = None
        self._day: date | None = None
        self._path_name = ""
        self._inode, self._size = 0, 0
        self._seq, self._hash = 0, GENESIS

    def append(self, kind: str, payloads: Sequence[dict]) -> None:
        """Chain one record per payload and write them in one system call (fsync'd in durable
        mode) before returning."""
        if payloads:
            with self._lock, self._exclusive():
                self._append(kind, payloads)

    def prune(self, retention_days: int) -> PruneResult:
        """Delete the day files older than ``retention_days`` (never the newest file): first a
        "retention" record in the chain, then the anchor, then the files (a rerun finishes)."""
        if retention_days < 1:
            raise AuditLogError(f"audit_retention_days must be at least 1, not {retention_days}")
        with self._lock, self._exclusive():
            last_day = self.clock().astimezone(UTC).date() - timedelta(days=retention_days)
            doomed = [(day, path) for day, path in log_files(self.folder)[:-1] if day <= last_day]
            if not doomed:
                return PruneResult([], read_anchor(self.folder))
            seq, head = _head(self.folder, [path for _, path in doomed])
            anchor = Anchor(seq, head, doomed[-1][0].isoformat())
            names = [path.name for _, path in doomed]
            self._append(RETENTION, [{"anchor": anchor.to_dict(), "deleted": names}])
            _write_atomically(self.folder / ANCHOR_FILE, canonical(anchor.to_dict()))
            for _, path in doomed:
                path.unlink()
            return PruneResult(names, anchor)

    def close(self) -> None:
        with self._lock:
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._lock_fd = self._path = None

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """The folder's lock, across processes (the thread lock covers this process)."""
        if self._lock_fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _append(self, kind: str, payloads: Sequence[dict]) -> None:
        now = self.clock().astimezone(UTC)
        fd = self._file_of(now.date())
        stamp = now.isoformat(timespec="milliseconds")
        try:
            data, seq, head = chain_lines(self._seq, self._hash, stamp, kind, payloads)
        except (TypeError, ValueError):  # NaN, numpy numbers...: converted, off the fast path
            payloads = [plain(payload) for payload in payloads]
            data, seq, head = chain_lines(self._seq, self._hash, stamp, kind, payloads)
        try:
            self._size += _write_all(fd, data)
            if self.durable:
                os.fsync(fd)
        except OSError:
            self._path = None  # part of it may be on disk: read the head again next time
            raise
        self._seq, self._hash = seq, head

    def _file_of(self, day: date) -> int:
        """The descriptor of the day's file, with the head in memory brought up to date."""
        if self._fd is not None and self._path is not None and day == self._day:
            with contextlib.suppress(FileNotFoundError):
                found = os.stat(self._path_name)  # noqa: PTH116  (a str: this runs per request)
                if (found.st_ino, found.st_size) == (self._inode, self._size):
                    return self._fd  # nobody wrote since this writer's last append
        return self._reopen(self.folder / f"audit-{day.isoformat()}.jsonl", day)

    def _reopen(self, path: Path, day: date) -> int:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        created = not path.exists()
        fd = os.open(path, _FLAGS, 0o644)
        if created and self.durable:
            _fsync_folder(self.folder)  # the new file's name must survive a crash too
        self._seq, self._hash = _head(self.folder, [p for _, p in log_files(self.folder)])
        found = os.fstat(fd)  # after _head, which may have cut a torn tail off this file
        self._fd, self._path, self._inode, self._size = fd, path, found.st_ino, found.st_size
        self._day, self._path_name = day, str(path)
        return fd


def _head(folder: Path, files: list[Path]) -> tuple[int, str]:
    """Seq and hash of the last record in ``files`` (newest first), else the anchor's, else the
    genesis. A torn last line (a writer died mid-write, never acknowledged) is cut off."""
    for path in reversed(files):
        if (text := _last_line(path)) is not None:
            try:
                record = json.loads(text)
                return int(record["seq"]), str(record["hash"])
            except (ValueError, KeyError, TypeError):
                raise AuditLogError(
                    f"{path}: the last line is not an audit record; run `audit verify`"
                ) from None
    anchor = read_anchor(folder)
    return (anchor.seq, anchor.hash) if anchor else (0, GENESIS)


def _last_line(path: Path) -> bytes | None:
    """The last complete line of a file (cutting off a torn one); None when it has none."""
    with path.open("r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        start, tail = end, b""
        while start > 0 and tail.count(b"\n") < 2:  # until the tail holds a whole line
            start = max(0, start - _TAIL_BLOCK)
            handle.seek(start)
            tail = handle.read(end - start)
        cut = tail.rfind(b"\n") + 1
        if cut < len(tail):
            handle.truncate(start + cut)
        lines = tail[:cut].splitlines()
        return lines[-1] if lines else None


def _write_all(fd: int, data: bytes) -> int:
    written = os.write(fd, data)
    while written < len(data):  # a short write (rare): write the rest after it
        written += os.write(fd, memoryview(data)[written:])
    return written


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        handle.write(data + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
