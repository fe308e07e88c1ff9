"""The drag benchmark's fixed task set and its flow read-out (the parts that decide what is measured)."""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "drag_bench.py"
spec = importlib.util.spec_from_file_location("drag_bench", BENCH)
drag_bench = importlib.util.module_from_spec(spec)
sys.modules["drag_bench"] = drag_bench  # dataclasses look their module up
spec.loader.exec_module(drag_bench)


def test_task_set_is_fixed_and_follows_its_specification():
    tasks = drag_bench.make_tasks(64, 60)
    assert tasks == drag_bench.make_tasks(64, 60)  # versioned: same tasks every run
    assert drag_bench.make_tasks(64, 30) == tasks[:30]  # shorter runs are a prefix
    assert [len(t.handles) for t in tasks[:6]] == [1, 3, 5, 1, 3, 5]
    assert sum(t.mask_box is not None for t in tasks) == 20
    for t in tasks:
        for (hx, hy), (tx, ty) in zip(t.handles, t.targets):
            assert 0.05 * 64 - 0.01 <= math.hypot(tx - hx, ty - hy) <= 0.25 * 64 + 0.01
            assert 0 <= tx <= 63 and 0 <= ty <= 63
        if t.mask_box is not None:
            x0, y0, x1, y1 = t.mask_box
            assert all(x0 <= x < x1 and y0 <= y < y1 for x, y in t.handles + t.targets)


def test_reachable_tasks_follow_their_warp():
    tasks = drag_bench.make_reachable_tasks(64, 20)
    assert tasks == drag_bench.make_reachable_tasks(64, 20) and len({t.seed for t in tasks}) == 20
    for t in tasks:
        moved = math.hypot(t.target[0] - t.handle[0], t.target[1] - t.handle[1])
        # The centre moves by less than the bump's amplitude (it leaves the peak) but most of it.
        assert 0.5 * math.hypot(*t.shift) < moved < math.hypot(*t.shift) and 0.06 * 64 * 0.5 < moved
    # The warped image really carries the centre's content to the target (an impulse lands there).
    t = tasks[0]
    image = torch.full((1, 3, 64, 64), -1.0)
    x, y = round(t.handle[0]), round(t.handle[1])
    image[..., y - 1:y + 2, x - 1:x + 2] = 1.0
    warped = drag_bench.bump_warp(image, (x, y), t.shift, drag_bench.WARP_SIGMA * 64)[0, 0]
    peak = divmod(int(warped.argmax()), 64)
    expected = drag_bench.warp_forward((x, y), (x, y), t.shift, drag_bench.WARP_SIGMA * 64)
    assert math.hypot(peak[1] - expected[0], peak[0] - expected[1]) <= 1.0


def test_flow_read_out_maps_upsampled_flow_back_to_model_pixels():
    up = drag_bench.FLOW_UPSAMPLE
    flow = np.zeros((64 * up, 64 * up, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0 * up, -2.0 * up  # content moved by (+3, -2) model px everywhere
    assert np.allclose(drag_bench.FlowTracker.read(flow, [(10.0, 20.0), (40.5, 33.25)]),
                       [(13.0, 18.0), (43.5, 31.25)], atol=1e-5)


def stripes(shift: float) -> np.ndarray:
    """A 64 px RGB image of vertical stripes 12 px apart, moved right by `shift` px."""
    xs = np.arange(64, dtype=np.float64) - shift
    row = 128 + 90 * np.sin(2 * np.pi * xs / 12)
    return np.repeat(np.repeat(row[None, :, None], 64, axis=0), 3, axis=2).astype(np.uint8)


def test_flow_guided_through_the_frames_follows_motion_that_direct_flow_mistakes():
    """Stripes moved 8 px of their 12 px period look like stripes moved 4 px back: the unguided flow
    heads for the near alias (it reads about 2 px back), the flow guided through frames 1 px apart
    follows the motion."""
    tracker = drag_bench.FlowTracker()
    point = [(30.0, 32.0)]
    frames = [stripes(s) for s in range(1, 8)]
    (direct_x, _), = tracker.track(stripes(0), stripes(8), point)
    (guided_x, guided_y), = tracker.track(stripes(0), stripes(8), point, frames)
    assert direct_x < 30.0  # the wrong basin
    assert abs(guided_x - 38.0) < 0.5 and abs(guided_y - 32.0) < 0.5


def test_a_guided_flow_leaves_later_unguided_ones_as_a_fresh_tracker_reads_them():
    """OpenCV's DIS keeps starting from a given flow in later calls of the same instance."""
    tracker = drag_bench.FlowTracker()
    fresh = drag_bench.FlowTracker().flow(stripes(0), stripes(8))
    tracker.flow(stripes(0), stripes(8), [stripes(4)])
    assert np.array_equal(tracker.flow(stripes(0), stripes(8)), fresh)


def test_flows_compose_as_one_motion_after_the_other():
    tracker = drag_bench.FlowTracker()
    first = np.zeros((32, 32, 2), np.float32)
    first[..., 0] = 2.0  # everything 2 px right
    second = np.zeros((32, 32, 2), np.float32)
    second[:, 10:, 1] = 3.0  # then whatever lies at x >= 10 moves 3 px down
    total = tracker.compose(first, second)
    assert np.allclose(total[5, 4], (2.0, 0.0)) and np.allclose(total[5, 9], (2.0, 3.0))


def test_saved_frames_load_back_in_order(tmp_path):
    from PIL import Image
    frames = [np.full((64, 64, 3), 10 * k, np.uint8) for k in range(3)]
    image = tmp_path / "task000.png"
    Image.fromarray(np.concatenate(frames, axis=0)).save(drag_bench.frames_path(image))
    loaded = drag_bench.load_frames(image)
    assert len(loaded) == 3 and all(np.array_equal(a, b) for a, b in zip(loaded, frames))
    assert drag_bench.load_frames(tmp_path / "task001.png") == []


def test_variant_names_map_to_drag_options():
    assert drag_bench.drag_options("draggan/fast").precision == "auto"
    opts = drag_bench.drag_options("freedrag/fast/float32", max_steps=7)
    assert (opts.method, opts.preset, opts.precision, opts.max_steps) == ("freedrag", "fast", "float32", 7)
    with pytest.raises(ValueError, match="method names look like"):
        drag_bench.drag_options("draggan")


def test_a_short_run_reports_every_variant(tmp_path):
    out = tmp_path / "drag.json"
    drag_bench.main(["--tasks", "2", "--max-steps", "2", "--pairs", "1", "--timing-steps", "0",
                     "--reachable", "1", "--projection-steps", "20", "--out", str(out)])
    report = json.loads(out.read_text())
    assert set(report["methods"]) == set(report["reachable"]) == set(drag_bench.METHODS)
    (projection,), = report["reachable_projection"].values()
    assert projection["psnr_projected"] > projection["psnr_unedited"]  # the model can show the warp
    assert report["auto_precision"] in ("bfloat16", "float32")
    for rows in report["rows"].values():
        assert [r["task"] for r in rows] == [0, 1] and all(r["steps"] <= 2 for r in rows)


def test_option_overrides_are_typed_by_the_drag_options_fields():
    assert drag_bench.parse_overrides("feature_block=b32,optimize_rows=10,lr=0.01,latent_space=w") == {
        "feature_block": "b32", "optimize_rows": 10, "lr": 0.01, "latent_space": "w"}
    opts = drag_bench.drag_options("draggan/fast", **drag_bench.parse_overrides("precision=float32"))
    assert opts.precision == "float32"
    with pytest.raises(SystemExit, match="no field 'radius'"):
        drag_bench.parse_overrides("radius=3")
    with pytest.raises(SystemExit, match="lr must be a number"):
        drag_bench.parse_overrides("lr=fast")


def test_summary_counts_partial_motion_separately_from_success():
    rows = [{"md_flow": f, "md_own": 0.1, "md_start": 10.0, "points": 1, "converged": True, "steps": 5,
             "ms_per_step": 1.0, "seconds": 0.1, "masked": False} for f in (0.2, 4.0, 8.0, 9.5)]
    summary = drag_bench.summarize(rows, 64)
    assert summary["success"] == 1 and summary["half_way"] == 2 and summary["stalled"] == 1
    assert math.isclose(summary["moved_share"], (0.98 + 0.6 + 0.2 + 0.05) / 4)
    # own tracker 0.1 of 10 px from the target: fooled where the flow shows under a quarter of the way
    assert summary["tracker_fooled"] == 2  # flow 8.0 and 9.5 px; at 4.0 px the content did move


def test_merge_takes_the_later_run_of_a_method_and_summarises_every_row_set_alike():
    def report(name, flows, date):
        rows = [{"md_flow": f, "md_own": 0.1, "md_start": 10.0, "points": 1, "converged": False, "steps": 5,
                 "ms_per_step": 1.0, "seconds": 0.1, "masked": False} for f in flows]
        return {"resolution": 64, "date": date, "methods": {name: {"stale": True}}, "rows": {name: rows},
                "pairs": {}, "reachable": {}, "reachable_projection": {}}

    merged = drag_bench.merge_reports([report("a", [9.5, 9.5], "2026-01-01"), report("b", [1.0, 9.5], "2026-01-02"),
                                       report("a", [4.0, 0.2], "2026-01-03")])
    assert list(merged["methods"]) == ["a", "b"] and merged["date"] == "2026-01-03"
    assert merged["methods"]["a"]["half_way"] == 2 and merged["methods"]["a"]["stalled"] == 0
    assert merged["methods"]["b"]["stalled"] == 1 and "stale" not in merged["methods"]["b"]


def test_a_reading_beyond_the_start_counts_as_no_progress():
    """Where a drag smeared the face the flow still answers, up to 30 px the wrong way: capped."""
    class Tracker:
        def track(self, before, after, points, through=()):
            return [(30.0, 40.0)] * len(points)

    blank = np.zeros((64, 64, 3), np.uint8)
    handles, targets = [(10.0, 10.0), (20.0, 20.0), (29.0, 38.0)], [(30.0, 40.0), (20.0, 30.0), (31.0, 40.0)]
    reading = drag_bench.flow_reading(Tracker(), blank, blank, handles, targets)
    distances = [0.0, math.hypot(10, 10), math.hypot(1, 0)]    # where the tracker put each handle
    starts = [math.hypot(20, 30), 10.0, math.hypot(2, 2)]
    assert math.isclose(reading["md_flow_raw"], sum(distances) / 3)
    assert math.isclose(reading["md_flow"], sum(map(min, distances, starts)) / 3)
    assert math.isclose(reading["md_flow"], (0.0 + 10.0 + 1.0) / 3)  # the second went the wrong way
    assert reading["flow_beyond_start"] == 1


def test_saved_images_reread_to_the_same_figures(tmp_path):
    """--save-images then --merge --reread: the re-read rows equal the run's own."""
    out, images = tmp_path / "run.json", tmp_path / "images"
    drag_bench.main(["--tasks", "2", "--max-steps", "3", "--pairs", "0", "--timing-steps", "0", "--reachable", "1",
                     "--projection-steps", "0", "--methods", "draggan/fast", "--save-images", str(images),
                     "--out", str(out)])
    assert sorted(p.name for p in (images / "draggan_fast").iterdir()) == ["reachable000.png", "task000.png",
                                                                         "task001.png"]
    reread = tmp_path / "reread.json"
    drag_bench.main(["--merge", str(out), "--reread", str(images), "--out", str(reread)])
    before, after = json.loads(out.read_text()), json.loads(reread.read_text())
    for group in ("rows", "reachable"):
        for a, b in zip(before[group]["draggan/fast"], after[group]["draggan/fast"]):
            assert math.isclose(a["md_flow"], b["md_flow"], abs_tol=1e-9) and a["flow_beyond_start"] == b["flow_beyond_start"]


def test_the_json_keeps_the_note_so_the_docs_section_can_be_rewritten_from_it_alone(tmp_path, capsys):
    """A later `--merge` of the JSON (no --note) prints the same section, note included."""
    out, again = tmp_path / "run.json", tmp_path / "again.json"
    drag_bench.main(["--tasks", "1", "--max-steps", "2", "--pairs", "0", "--timing-steps", "0", "--reachable", "0",
                     "--projection-steps", "0", "--methods", "draggan/fast", "--note", "Measured on a quiet day.",
                     "--out", str(out)])
    first = capsys.readouterr().out
    assert json.loads(out.read_text())["note"] == "Measured on a quiet day."
    drag_bench.main(["--merge", str(out), "--out", str(again)])
    second = capsys.readouterr().out
    section = first[first.index("## Drag"):]
    assert "Measured on a quiet day." in section and second.endswith(section)


def test_paired_difference_to_the_reference_and_its_interval():
    def rows(flows):
        return [{"task": i, "md_flow": f} for i, f in enumerate(flows)]

    same = drag_bench.paired_difference(rows([1.0, 2.0, 3.0, 4.0]), rows([1.0, 2.0, 3.0, 4.0]))
    assert same == (0.0, 0.0, 0.0)
    mean, low, high = drag_bench.paired_difference(rows([2.0, 2.5, 4.0, 5.0]), rows([1.0, 2.0, 3.0, 4.0]))
    assert math.isclose(mean, 0.875) and 0.5 <= low < mean < high <= 1.0  # every task worse: the interval excludes 0
    assert drag_bench.paired_difference(rows([1.0, 2.0]), rows([1.0, 2.0, 3.0])) is None  # not the same tasks


def test_alternating_step_times_pair_each_task_run_with_the_reference():
    """The idle-machine speed comparison: every variant timed on every task run, and its ratio the
    median of published / variant over the same task runs (not a ratio of two medians)."""
    G, _ = drag_bench.load_generator(None)
    tasks = drag_bench.make_tasks(G.img_resolution)[:3]
    timing = drag_bench.alternating_step_times(G, tasks, ["draggan/fast", "draggan/published"], repeats=2, steps=3)
    runs = timing["runs"]
    assert timing["tasks"] == [0, 1, 2] and all(len(t) == 6 and min(t) > 0 for t in runs.values())
    paired = np.median(np.array(runs["draggan/published"]) / np.array(runs["draggan/fast"]))
    assert timing["ratio"] == {"draggan/fast": pytest.approx(paired)}
    assert timing["ms"]["draggan/fast"] == pytest.approx(np.median(runs["draggan/fast"]))



def test_a_speed_run_reports_the_alternating_times(tmp_path, capsys):
    out = tmp_path / "speed.json"
    drag_bench.main(["--tasks", "1", "--max-steps", "2", "--pairs", "0", "--reachable", "0", "--timing-steps", "0",
                     "--methods", "draggan/fast,draggan/published", "--speed-repeats", "1", "--speed-steps", "2",
                     "--out", str(out)])
    timing = json.loads(out.read_text())["step_time_model"]
    assert timing["tasks"] == list(range(9)) and timing["steps"] == 2
    assert f"draggan/fast {timing['ratio']['draggan/fast']:.2f}×" in capsys.readouterr().out


def test_nvidia_kernels_time_the_same_drag_and_leave_the_model_as_it_was():
    """The published step on NVIDIA's kernel choices computes what our published preset computes
    (same function, other kernels), leaves no weight gradients behind and the weights frozen again."""
    G, _ = drag_bench.load_generator(None)
    task = drag_bench.make_tasks(G.img_resolution)[1]
    ws = drag_bench.seed_ws(G, task.seed)
    options = drag_bench.drag_options("draggan/published", max_steps=3, stop_distance=1e-6)
    ours = drag_bench.drag(G, ws, task.handles, task.targets, options=options)
    with drag_bench.NvidiaKernels(G) as reference:
        assert all(p.requires_grad for p in G.synthesis.parameters())
        theirs = drag_bench.drag(reference, ws, task.handles, task.targets, options=options)
    assert not any(p.requires_grad or p.grad is not None for p in G.parameters())
    assert ours.steps == theirs.steps == 3
    torch.testing.assert_close(theirs.ws, ours.ws, atol=1e-4, rtol=0)
    assert not torch.equal(theirs.ws, ws)
    stamps = drag_bench.timed_drag(G, "draggan/published" + drag_bench.NVIDIA_KERNELS, ws, task.handles,
                                   task.targets, max_steps=2, stop_distance=1e-6)
    assert len(stamps) == 2 and stamps[1] > stamps[0]


def test_a_guided_reading_records_how_far_the_guide_moved_it():
    class Tracker:
        def track(self, before, after, points, through=()):
            return [(13.0, 14.0) if through else (10.0, 10.0) for _ in points]

    blank = np.zeros((64, 64, 3), np.uint8)
    guided = drag_bench.flow_reading(Tracker(), blank, blank, [(10.0, 10.0)], [(13.0, 14.0)], [blank])
    assert guided["md_flow"] == 0.0 and guided["flow_guide_shift"] == [5.0]
    assert "flow_guide_shift" not in drag_bench.flow_reading(Tracker(), blank, blank, [(10.0, 10.0)], [(13.0, 14.0)])
