"""The resolution benchmark's measure of ids kept across an incremental run."""

from __future__ import annotations

from benchmarks.resolution.run import kept_ids


def test_kept_ids_counts_only_residents_none_of_whose_records_changed():
    previous = {"a1": "R1", "a2": "R1", "b1": "R2", "c1": "R3", "d1": "R4"}
    # R1 kept whole; R2 changed (b1 edited) so it is not counted; R3 lost its id; R4 had a record moved away.
    current = {"a1": "R1", "a2": "R1", "b1": "R9", "c1": "R7", "d1": "R1", "new": "R1"}
    result = kept_ids(previous, current, changed={"b1", "new"})
    assert result == {"previous_residents": 4, "unchanged_residents": 3, "kept_id": 1, "kept_share": round(1 / 3, 6)}


def test_kept_ids_with_nothing_unchanged_has_no_share():
    assert kept_ids({"a": "R1"}, {"a": "R2"}, changed={"a"})["kept_share"] is None


def test_the_results_set_linking_against_the_peer_and_golden_records_apart():
    import json
    from pathlib import Path

    from benchmarks.resolution.run import RESULTS_DIR, markdown

    result = json.loads((Path(RESULTS_DIR) / "resolution-100000-hard.json").read_text(encoding="utf-8"))
    result["resolve_parts"] = {"link": {"median_seconds": 40.0, "runs_seconds": [40.0]},
                               "golden_records": {"median_seconds": 14.0, "runs_seconds": [14.0]}}
    text = markdown(result)
    assert "linking (matching, clustering, resident ids: xref, review queue, id history) took 40.0 s" in text
    assert "golden records, lineage and facts by resident, which the plain pipeline does not build, 14.0 s" in text


def test_reuse_refuses_a_city_an_earlier_change_set_advanced(tmp_path):
    import json

    import pytest

    from benchmarks.resolution.run import check_reusable

    (tmp_path / "city.json").write_text(json.dumps({"seed": 42, "days_advanced": 0}), encoding="utf-8")
    check_reusable(tmp_path)  # as generated: reusable
    (tmp_path / "city.json").write_text(json.dumps({"seed": 42, "days_advanced": 1}), encoding="utf-8")
    with pytest.raises(SystemExit, match="advanced 1 day"):
        check_reusable(tmp_path)
