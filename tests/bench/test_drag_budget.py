"""The step-budget benchmark reads each checkpoint as the drag benchmark reads a drag stopped there."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import drag_bench  # noqa: E402
import drag_budget  # noqa: E402
from test_drag_taskset import stripes  # noqa: E402


def test_each_frames_reading_is_the_flow_of_a_drag_stopped_there():
    tracker = drag_bench.FlowTracker()
    frames = [stripes(s) for s in range(1, 9)]
    readings = list(tracker.readings_through(stripes(0), frames))
    assert len(readings) == len(frames)
    for k in (0, 3, 7):
        assert np.array_equal(readings[k], tracker.flow(stripes(0), frames[k], frames[:k + 1]))
    (x, _), = tracker.read(readings[7], [(30.0, 32.0)])
    assert abs(x - 38.0) < 0.5  # the guided reading follows the 8 px motion


def test_checkpoints_reproduce_the_benchmark_rows_of_shorter_drags():
    G, _ = drag_bench.load_generator(None)
    tracker = drag_bench.FlowTracker()
    tasks = drag_bench.make_tasks(G.img_resolution, 3)  # task 2 is masked
    for task in tasks:
        rows = drag_budget.budget_rows(G, task, "draggan/fast", 100, tracker, {})
        assert [r["budget"] for r in rows] == [50, 100]
        for row in rows:
            reference = drag_bench.run_task(G, task, "draggan/fast", row["budget"], tracker)
            for key in ("md_flow", "md_flow_raw", "flow_beyond_start", "md_own", "steps", "converged",
                        "change_outside", "change_inside"):
                assert row.get(key) == reference.get(key), (task.task_id, row["budget"], key)


def test_a_short_run_merges_into_one_table_per_method(tmp_path):
    first, second, merged = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "m.json"
    drag_budget.main(["--methods", "draggan/fast", "--tasks", "1", "--max-steps", "100", "--out", str(first)])
    drag_budget.main(["--methods", "freedrag/fast", "--tasks", "1", "--max-steps", "100", "--out", str(second)])
    drag_budget.main(["--merge", str(first), str(second), "--out", str(merged), "--note", "checked"])
    report = json.loads(merged.read_text())
    assert list(report["summary"]) == ["draggan/fast", "freedrag/fast"]
    assert set(report["summary"]["freedrag/fast"]) == {"50", "100"}
    text = drag_budget.markdown(report)
    assert text.startswith(drag_budget.HEADING) and text.count("\n| 100 |") == 2 and "checked" in text
    with pytest.raises(SystemExit):
        drag_budget.main(["--max-steps", "120", "--out", str(tmp_path / "x.json")])


def test_the_budget_section_is_written_beside_the_drag_section(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n## Drag\n\ndrag table\n\n## Other\n\nkept\n")
    drag_bench.write_docs_section(page, drag_budget.HEADING + "\n\nfirst\n", drag_budget.HEADING)
    drag_bench.write_docs_section(page, drag_budget.HEADING + "\n\nsecond\n", drag_budget.HEADING)
    drag_bench.write_docs_section(page, "## Drag\n\nnew drag table\n")
    text = page.read_text()
    assert text.count(drag_budget.HEADING) == 1 and "second" in text and "first" not in text
    assert "new drag table" in text and text.count("drag table") == 1 and "kept" in text
