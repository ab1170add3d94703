import json
import os
import select
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.io import prediction_log
from {{ cookiecutter.package_name }}.io.prediction_log import (
    PredictionLog,
    PredictionReader,
    read_predictions,
)

DAY = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
#: A writer process: appends records numbered by "i", forever when the count is negative.
WRITER = """
import importlib, sys
from pathlib import Path

module = importlib.import_module(sys.argv[1])
log = module.PredictionLog(Path(sys.argv[2]), max_bytes=int(sys.argv[3]))
writer, count, i = sys.argv[4], int(sys.argv[5]), 0
while count < 0 or i < count:
    # Batches of up to 64 records span several pages, so a kill can land inside a write.
    n = 1 + i % 64 if count < 0 else 1
    log.append([{"writer": writer, "i": i + k, "pad": "x" * 300} for k in range(n)])
    i += n
    if i - n < 300 <= i:
        print("ready", flush=True)
"""


def record(i: int) -> dict:
    return {"request_id": f"r{i}", "i": i, "score": i / 100, "model_version": "3"}


@pytest.fixture
def spawn_writer(tmp_path):
    """Starts writer processes into tmp_path; every one is killed when the test ends."""
    src = Path(prediction_log.__file__).resolve().parents[2]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    started = []

    def spawn(writer: str, count: int, max_bytes: int) -> subprocess.Popen:
        arguments = [prediction_log.__name__, str(tmp_path), str(max_bytes), writer, str(count)]
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, *arguments], env=env, stdout=subprocess.PIPE, text=True
        )
        started.append(process)
        return process

    yield spawn
    for process in started:
        process.kill()
        process.wait()
        assert process.stdout is not None  # spawned with stdout=PIPE
        process.stdout.close()


def test_records_round_trip_in_order_across_appends(tmp_path):
    nested = {
        "request_id": "é-1",
        "features": {"tenure": 12, "Contract": "Month-to-month", "TotalCharges": None},
        "services": ["PhoneService", "StreamingTV"],
        "churn": True,
        "score": 0.23,
    }
    with PredictionLog(tmp_path) as log:
        log.append([record(0), record(1)])
        log.append([nested])
        log.append([])
        log.append([record(2)])

    read = read_predictions(tmp_path)

    assert read.records == [record(0), record(1), nested, record(2)]
    assert read.torn == 0


def test_the_folder_appears_on_first_append_and_a_missing_one_reads_empty(tmp_path):
    folder = tmp_path / "logs" / "predictions"
    log = PredictionLog(folder)

    assert not folder.exists()
    assert read_predictions(folder).records == []
    log.append([record(0)])
    log.close()

    assert len(list(folder.iterdir())) == 1
    assert read_predictions(folder).records == [record(0)]


def test_size_rotation_names_files_in_sequence_and_reads_them_numerically(tmp_path):
    # Every file is full after one append, so twelve appends cross .9 -> .10 -> .11.
    with PredictionLog(tmp_path, max_bytes=1, clock=lambda: DAY) as log:
        for i in range(12):
            log.append([record(i)])

    names = {path.name for path in tmp_path.iterdir()}
    expected = ["predictions-2026-11-27.jsonl"]
    expected += [f"predictions-2026-11-27.{n}.jsonl" for n in range(1, 12)]
    assert names == set(expected)
    assert [r["i"] for r in read_predictions(tmp_path).records] == list(range(12))


def test_one_append_stays_in_one_file_even_past_the_limit(tmp_path):
    with PredictionLog(tmp_path, max_bytes=100, clock=lambda: DAY) as log:
        log.append([record(i) for i in range(10)])
        log.append([record(10)])

    assert len((tmp_path / "predictions-2026-11-27.jsonl").read_bytes().splitlines()) == 10
    assert (tmp_path / "predictions-2026-11-27.1.jsonl").read_bytes().count(b"\n") == 1


def test_a_new_utc_day_starts_a_new_file(tmp_path):
    times = [
        DAY,
        DAY.replace(hour=23, minute=59),
        # 23:30 at UTC-2 is already the next UTC day.
        datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=-2))),
        DAY + timedelta(days=1),
    ]
    with PredictionLog(tmp_path, clock=iter(times).__next__) as log:
        for i in range(4):
            log.append([record(i)])

    first = records_in(tmp_path / "predictions-2026-11-27.jsonl")
    second = records_in(tmp_path / "predictions-2026-11-28.jsonl")
    assert [r["i"] for r in first] == [0, 1]
    assert [r["i"] for r in second] == [2, 3]
    assert [r["i"] for r in read_predictions(tmp_path).records] == [0, 1, 2, 3]


def test_a_restart_continues_todays_newest_file_until_it_is_full(tmp_path):
    with PredictionLog(tmp_path, max_bytes=1_000, clock=lambda: DAY) as log:
        log.append([record(0)])
    with PredictionLog(tmp_path, max_bytes=1_000, clock=lambda: DAY) as log:
        log.append([record(1)])
    with PredictionLog(tmp_path, max_bytes=10, clock=lambda: DAY) as log:
        log.append([record(2)])

    assert records_in(tmp_path / "predictions-2026-11-27.jsonl") == [record(0), record(1)]
    assert records_in(tmp_path / "predictions-2026-11-27.1.jsonl") == [record(2)]


def test_a_torn_last_line_is_skipped_and_never_glued_to_the_next_record(tmp_path):
    with PredictionLog(tmp_path, clock=lambda: DAY) as log:
        log.append([record(0), record(1)])
    with (tmp_path / "predictions-2026-11-27.jsonl").open("ab") as handle:
        handle.write(b'{"request_id": "x", "sco')

    before = read_predictions(tmp_path)
    with PredictionLog(tmp_path, clock=lambda: DAY) as log:
        log.append([record(2)])
        log.append([record(3)])
    after = read_predictions(tmp_path)

    assert (before.records, before.torn) == ([record(0), record(1)], 1)
    assert (after.records, after.torn) == ([record(i) for i in range(4)], 1)


def test_lines_that_are_not_json_objects_are_counted_not_raised(tmp_path):
    (tmp_path / "predictions-2026-11-27.jsonl").write_bytes(b'[1, 2]\nnot json\n\xff\n{"i": 0}\n')

    reader = PredictionReader(tmp_path)

    assert list(reader) == [{"i": 0}]
    assert reader.torn == 3


def test_a_killed_writer_leaves_only_whole_contiguous_records(tmp_path, spawn_writer):
    writer = spawn_writer("a", count=-1, max_bytes=2**18)
    ready, _, _ = select.select([writer.stdout], [], [], 120)
    assert ready, "the writer never got going"
    assert writer.stdout.readline() == "ready\n"
    writer.send_signal(signal.SIGKILL)
    assert writer.wait(timeout=60) == -signal.SIGKILL

    killed = read_predictions(tmp_path)
    count = len(killed.records)
    with PredictionLog(tmp_path, max_bytes=2**18) as log:
        log.append([{"writer": "b", "i": count + k} for k in range(3)])
    again = read_predictions(tmp_path)

    assert count >= 300
    assert [r["i"] for r in killed.records] == list(range(count))
    assert killed.torn <= 1
    assert [r["i"] for r in again.records] == list(range(count + 3))
    assert again.torn == killed.torn


def test_two_processes_append_to_the_same_files(tmp_path, spawn_writer):
    writers = [spawn_writer(name, count=2_000, max_bytes=2**16) for name in "ab"]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]

    read = read_predictions(tmp_path)

    for name in "ab":
        assert [r["i"] for r in read.records if r["writer"] == name] == list(range(2_000))
    assert read.torn == 0
    assert len(list(tmp_path.iterdir())) > 1


def test_threads_appending_at_once_lose_nothing(tmp_path):
    log = PredictionLog(tmp_path, max_bytes=2**14)

    def append_many(thread: int) -> None:
        for i in range(500):
            log.append([{"thread": thread, "i": i}])

    threads = [threading.Thread(target=append_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    read = read_predictions(tmp_path)

    assert read.torn == 0
    for n in range(8):
        assert [r["i"] for r in read.records if r["thread"] == n] == list(range(500))
    assert len(read.records) == 8 * 500


def records_in(path: Path) -> list[dict]:
    """The records of one log file, read without the module's reader."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
