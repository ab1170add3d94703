"""The audit log on disk: one valid chain under threads and processes, day files, durable
appends, torn tails and retention."""

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.core.audit import verify
from {{ cookiecutter.package_name }}.io.audit_log import (
    ANCHOR_FILE,
    AuditLog,
    AuditLogError,
    log_files,
    read_anchor,
    read_lines,
)

DAY = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = DAY):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def records(folder: Path) -> list[dict]:
    return [json.loads(line.text) for line in read_lines(folder)]


def check(folder: Path) -> int:
    verdict = verify(read_lines(folder), read_anchor(folder))
    assert verdict.ok, verdict.problem
    return verdict.records


def test_appends_chain_records_of_the_given_kind(tmp_path):
    with AuditLog(tmp_path) as log:
        log.append("prediction", [{"score": 0.1}, {"score": 0.2}])
        log.append("promotion", [{"decision": "promoted"}])
        log.append("prediction", [])  # nothing to record: no record

    written = records(tmp_path)
    assert [(r["seq"], r["kind"]) for r in written] == [
        (1, "prediction"),
        (2, "prediction"),
        (3, "promotion"),
    ]
    assert written[2]["payload"] == {"decision": "promoted"}
    assert check(tmp_path) == 3


def test_values_json_lacks_are_stored_as_json_and_still_verify(tmp_path):
    decision = {"gain": float("nan"), "rows": np.int64(500), "holdout": Path("data/h.csv")}

    with AuditLog(tmp_path) as log:
        log.append("promotion", [decision])
        with pytest.raises(TypeError, match="object"):
            log.append("promotion", [{"model": object()}])

    (written,) = records(tmp_path)
    assert written["payload"] == {"gain": None, "rows": 500, "holdout": "data/h.csv"}
    assert check(tmp_path) == 1


def test_files_turn_over_at_midnight_utc_and_the_chain_goes_on(tmp_path):
    clock = Clock(datetime(2026, 1, 5, 23, 30, tzinfo=UTC))
    with AuditLog(tmp_path, clock=clock) as log:
        log.append("prediction", [{"n": 1}])
        # 00:30 on the 6th at UTC+02:00 is 22:30 UTC on the 5th: still the 5th's file.
        clock.now = datetime(2026, 1, 6, 0, 30, tzinfo=timezone(timedelta(hours=2)))
        log.append("prediction", [{"n": 2}])
        clock.now = datetime(2026, 1, 6, 0, 30, tzinfo=UTC)
        log.append("prediction", [{"n": 3}])

    names = [path.name for _, path in log_files(tmp_path)]
    assert names == ["audit-2026-01-05.jsonl", "audit-2026-01-06.jsonl"]
    assert check(tmp_path) == 3


def test_threads_share_one_chain(tmp_path):
    log = AuditLog(tmp_path)

    def write(worker: int) -> None:
        for n in range(100):
            log.append("prediction", [{"worker": worker, "n": n}] * (1 + n % 3))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()

    assert check(tmp_path) == 8 * sum(1 + n % 3 for n in range(100))


WRITER = """
import sys
from pathlib import Path
from {{ cookiecutter.package_name }}.io.audit_log import AuditLog

folder, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with AuditLog(folder) as log:
    for n in range(count):
        log.append("prediction", [{"writer": name, "n": n}, {"writer": name, "n": n}])
"""


def test_processes_share_one_chain(tmp_path):
    source = Path({{ cookiecutter.package_name }}.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(source)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name, "400"], env=env)
        for name in ("a", "b")
    ]
    assert [writer.wait() for writer in writers] == [0, 0]

    assert check(tmp_path) == 2 * 400 * 2
    written = records(tmp_path)
    assert {r["payload"]["writer"] for r in written} == {"a", "b"}


def test_a_writer_continues_what_another_appended_behind_it(tmp_path):
    first, second = AuditLog(tmp_path), AuditLog(tmp_path)

    for n in range(5):
        first.append("prediction", [{"n": n}])
        second.append("prediction", [{"n": n}, {"n": n}])

    assert check(tmp_path) == 15


def fsync_counter(monkeypatch) -> list[int]:
    """Records the descriptors os.fsync is called with; the real fsync still runs."""
    synced: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return synced


def test_durable_mode_fsyncs_the_log_file_before_append_returns(tmp_path, monkeypatch):
    synced = fsync_counter(monkeypatch)
    with AuditLog(tmp_path, durable=True, clock=Clock()) as log:
        log.append("prediction", [{"n": 1}])
        after_first = list(synced)
        log.append("prediction", [{"n": 2}, {"n": 3}])

        # Read through a descriptor of its own, while the writer still holds its file open.
        (_, path), *_ = log_files(tmp_path)
        with path.open() as fresh:
            assert len(fresh.readlines()) == 3

    log_inode = path.stat().st_ino
    assert after_first.count(log_inode) == 1  # the first append was on disk when it returned
    assert synced.count(log_inode) == 2  # one fsync per append, however many records
    assert tmp_path.stat().st_ino in synced  # the new file's directory entry too


def test_without_durable_mode_nothing_is_fsynced(tmp_path, monkeypatch):
    synced = fsync_counter(monkeypatch)
    with AuditLog(tmp_path) as log:
        log.append("prediction", [{"n": 1}])

    assert synced == []


def test_a_torn_last_line_is_cut_off_before_the_next_append(tmp_path):
    clock = Clock()
    with AuditLog(tmp_path, clock=clock) as log:
        log.append("prediction", [{"n": 1}])
    (_, path), *_ = log_files(tmp_path)
    with path.open("a") as handle:
        handle.write('{"seq": 2, "time": "2026-')  # a writer that died mid-line

    assert check(tmp_path) == 1  # readers skip a last line still being written
    with AuditLog(tmp_path, clock=clock) as log:
        log.append("prediction", [{"n": 2}])

    assert check(tmp_path) == 2
    assert "2026-'" not in path.read_text()


def test_a_log_whose_last_record_was_mangled_is_not_continued(tmp_path):
    with AuditLog(tmp_path) as log:
        log.append("prediction", [{"n": 1}])
    (_, path), *_ = log_files(tmp_path)
    with path.open("a") as handle:
        handle.write("not a record\n")

    with AuditLog(tmp_path) as log, pytest.raises(AuditLogError, match="audit verify"):
        log.append("prediction", [{"n": 2}])


def five_days(folder: Path) -> Clock:
    clock = Clock(DAY)
    with AuditLog(folder, clock=clock) as log:
        for day in range(5):
            clock.now = DAY + timedelta(days=day)
            log.append("prediction", [{"day": day}, {"day": day}])
    return clock


def test_retention_deletes_old_files_and_the_rest_verifies_from_the_anchor(tmp_path):
    clock = five_days(tmp_path)

    with AuditLog(tmp_path, clock=clock) as log:
        result = log.prune(retention_days=2)

    assert result.deleted == [f"audit-2026-01-0{day}.jsonl" for day in (5, 6, 7)]
    assert [path.name for _, path in log_files(tmp_path)] == [
        "audit-2026-01-08.jsonl",
        "audit-2026-01-09.jsonl",
    ]
    anchor = read_anchor(tmp_path)
    assert anchor is not None
    assert (anchor.seq, anchor.through) == (6, "2026-01-07")
    assert check(tmp_path) == 5  # two days of two records, and the retention record
    assert records(tmp_path)[-1]["kind"] == "retention"


def test_after_retention_a_deleted_file_is_still_found(tmp_path):
    clock = five_days(tmp_path)
    with AuditLog(tmp_path, clock=clock) as log:
        log.prune(retention_days=3)

    (tmp_path / "audit-2026-01-07.jsonl").unlink()  # inside the kept window

    problem = verify(read_lines(tmp_path), read_anchor(tmp_path)).problem
    assert problem is not None
    assert (problem.file, problem.seq) == ("audit-2026-01-08.jsonl", 7)
    assert problem.reason.startswith("removed")


def test_a_forged_anchor_is_found(tmp_path):
    clock = five_days(tmp_path)
    with AuditLog(tmp_path, clock=clock) as log:
        log.prune(retention_days=3)
    (tmp_path / "audit-2026-01-07.jsonl").unlink()
    forged = {"seq": 6, "hash": records(tmp_path)[0]["prev_hash"], "through": "2026-01-07"}
    (tmp_path / ANCHOR_FILE).write_text(json.dumps(forged))

    problem = verify(read_lines(tmp_path), read_anchor(tmp_path)).problem
    assert problem is not None
    assert problem.file == ANCHOR_FILE


def test_retention_keeps_the_newest_file_however_old(tmp_path):
    five_days(tmp_path)
    later = Clock(DAY + timedelta(days=100))

    with AuditLog(tmp_path, clock=later) as log:
        result = log.prune(retention_days=1)

    assert "audit-2026-01-09.jsonl" not in result.deleted
    assert check(tmp_path) == 3  # the newest day, then the retention record in today's file


def test_retention_refuses_less_than_a_day(tmp_path):
    with AuditLog(tmp_path) as log, pytest.raises(AuditLogError, match="at least 1"):
        log.prune(retention_days=0)
