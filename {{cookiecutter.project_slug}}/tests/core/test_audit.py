"""The hash chain: a clean log verifies; an edit, a removal or a reordering is found, and the
verdict names the first bad record."""

import json

import pytest

from {{ cookiecutter.package_name }}.core.audit import (
    GENESIS,
    RETENTION,
    Anchor,
    Line,
    canonical,
    chain,
    chain_lines,
    input_hash,
    record_hash,
    verify,
)

TIME = "2026-01-05T10:00:00.000+00:00"


def records(count: int, start: int = 0, head: str = GENESIS) -> list[dict]:
    return chain(start, head, TIME, "prediction", [{"score": n / 100} for n in range(count)])


def lines(chained: list[dict], file: str = "audit-2026-01-05.jsonl") -> list[Line]:
    return [Line(file, number, json.dumps(r) + "\n") for number, r in enumerate(chained, 1)]


def test_canonical_json_ignores_key_order_and_spacing():
    assert canonical({"b": 1, "a": [1.5, "é"]}) == canonical({"a": [1.5, "é"], "b": 1})
    assert canonical({"a": 1}) == b'{"a":1}'
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical({"score": float("nan")})


def test_input_hash_is_a_sha256_of_the_values_not_the_values():
    customer = {"tenure": 12, "Contract": "Month-to-month"}

    assert input_hash(customer) == input_hash(dict(reversed(customer.items())))
    assert input_hash(customer) != input_hash({**customer, "tenure": 13})
    assert len(input_hash(customer)) == 64
    assert "Month-to-month" not in input_hash(customer)


def test_each_record_links_to_the_one_before():
    chained = records(3)

    assert [r["seq"] for r in chained] == [1, 2, 3]
    assert chained[0]["prev_hash"] == GENESIS
    assert chained[1]["prev_hash"] == chained[0]["hash"]
    assert all(record_hash(r) == r["hash"] for r in chained)


def test_each_line_written_is_the_records_canonical_json():
    data, seq, head = chain_lines(0, GENESIS, TIME, "promotion", [{"b": 1, "a": "é"}, {"x": None}])

    written = data.splitlines()

    assert [canonical(json.loads(line)) for line in written] == written
    assert (seq, head) == (2, json.loads(written[-1])["hash"])
    assert verify(Line("f", n, line.decode()) for n, line in enumerate(written, 1)).ok


def test_a_clean_log_verifies():
    chained = records(5)

    verdict = verify(lines(chained))

    assert verdict.ok
    assert (verdict.records, verdict.first_seq, verdict.last_seq) == (5, 1, 5)
    assert verdict.head == chained[-1]["hash"]


def test_an_empty_log_verifies():
    verdict = verify([])

    assert verdict.ok
    assert verdict.records == 0


def test_an_edited_record_is_named():
    chained = records(5)
    chained[2]["payload"]["score"] = 0.99  # the hash no longer matches

    verdict = verify(lines(chained))

    assert not verdict.ok
    assert verdict.problem is not None
    assert (verdict.problem.line, verdict.problem.seq) == (3, 3)
    assert verdict.problem.reason.startswith("edited")
    assert verdict.records == 2


def test_an_edit_that_recomputes_its_hash_breaks_the_next_link():
    chained = records(5)
    chained[2]["payload"]["score"] = 0.99
    chained[2]["hash"] = record_hash(chained[2])

    problem = verify(lines(chained)).problem

    assert problem is not None
    assert (problem.line, problem.seq) == (4, 4)
    assert "prev_hash" in problem.reason


def test_a_removed_record_is_named():
    chained = records(5)
    del chained[1]

    problem = verify(lines(chained)).problem

    assert problem is not None
    assert (problem.line, problem.seq) == (2, 3)
    assert problem.reason == "removed: seq 2 missing before this record"


def test_removed_first_records_are_found_without_an_anchor():
    problem = verify(lines(records(5)[2:])).problem

    assert problem is not None
    assert (problem.line, problem.seq) == (1, 3)
    assert "seq 1-2 missing" in problem.reason


def test_swapped_records_are_named_as_reordered():
    chained = records(5)
    chained[1], chained[2] = chained[2], chained[1]

    problem = verify(lines(chained)).problem

    assert problem is not None
    assert (problem.line, problem.seq) == (2, 3)
    assert problem.reason.startswith("reordered")


def test_a_replayed_record_is_named():
    chained = records(3)

    problem = verify(lines([*chained, chained[1]])).problem

    assert problem is not None
    assert (problem.line, problem.seq) == (4, 2)
    assert "duplicated" in problem.reason


def test_a_line_that_is_not_a_record_is_named():
    chained = lines(records(3))
    chained[1] = Line(chained[1].file, 2, chained[1].text[:20])

    problem = verify(chained).problem

    assert problem is not None
    assert (problem.line, problem.seq) == (2, None)
    assert "not a JSON record" in problem.reason


def test_the_problem_names_file_line_and_seq():
    chained = records(3)
    chained[2]["kind"] = "promotion"

    problem = verify(lines(chained, "audit-2026-01-06.jsonl")).problem

    assert str(problem) == (
        "audit-2026-01-06.jsonl:3 (seq 3): edited: the hash does not match the record's content"
    )


def pruned_chain() -> tuple[list[dict], Anchor]:
    """Records 1-4 deleted by retention; the chain goes on from an anchor that a retention
    record (written before the deletion) confirms."""
    old = records(4)
    anchor = Anchor(old[-1]["seq"], old[-1]["hash"], "2026-01-04")
    confirm = chain(4, old[-1]["hash"], TIME, RETENTION, [{"anchor": anchor.to_dict()}])
    rest = records(3, start=5, head=confirm[-1]["hash"])
    return confirm + rest, anchor


def test_a_pruned_log_verifies_from_its_anchor():
    kept, anchor = pruned_chain()

    verdict = verify(lines(kept), anchor)

    assert verdict.ok
    assert (verdict.first_seq, verdict.last_seq) == (5, 8)


def test_a_pruned_log_still_finds_a_removal_after_the_anchor():
    kept, anchor = pruned_chain()
    del kept[0]

    problem = verify(lines(kept), anchor).problem

    assert problem is not None
    assert problem.seq == 6
    assert problem.reason.startswith("removed")


def test_an_anchor_no_retention_record_confirms_is_refused():
    kept, anchor = pruned_chain()
    moved = Anchor(anchor.seq, anchor.hash, "2026-01-05")  # someone deleted one more day

    problem = verify(lines(kept), moved).problem

    assert problem is not None
    assert problem.file == "anchor.json"
    assert "confirms" in problem.reason
