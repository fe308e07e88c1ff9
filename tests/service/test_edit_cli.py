"""`latentdrag edit` against a running engine: writes the edited layer and a GIF of the steps."""
from __future__ import annotations

import argparse
import signal
import threading

import numpy as np
import pytest
from engine_fixtures import decode_png
from PIL import Image

from engine.cli import CliError, edit_cmd


def run_edit(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    edit_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["edit", *argv])
    return args.func(args)


def test_edit_writes_the_layer_and_a_gif(engine, tmp_path):
    layer = np.random.default_rng(3).integers(0, 256, size=(48, 60, 3), dtype=np.uint8)
    Image.fromarray(layer).save(tmp_path / "in.png")
    mask = np.zeros((48, 60), np.uint8)
    mask[10:40, 15:45] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code = run_edit(str(tmp_path / "in.png"), "--drag", "25,22:31,24", "--mask", str(tmp_path / "mask.png"),
                    "--steps", "6", "-o", str(tmp_path / "out.png"), "--gif", str(tmp_path / "steps.gif"),
                    "--engine", engine.address)
    assert code == 0
    out = decode_png((tmp_path / "out.png").read_bytes())
    assert out.shape == (48, 60, 4)
    assert np.array_equal(out[mask == 0][:, :3], layer[mask == 0])  # unchanged outside the mask
    with Image.open(tmp_path / "steps.gif") as gif:
        assert gif.n_frames >= 3  # inversion result, previews, final


def test_the_first_ctrl_c_during_the_drag_keeps_what_it_reached(engine, tmp_path, monkeypatch, capsys):
    class InterruptingBar(edit_cmd.ProgressBar):
        def update(self, done, total, detail=""):
            super().update(done, total, detail)
            if self.label.startswith("dragging") and done == 3:
                signal.raise_signal(signal.SIGINT)  # as the user's Ctrl-C, in the main thread

    monkeypatch.setattr(edit_cmd, "ProgressBar", InterruptingBar)
    Image.fromarray(np.random.default_rng(4).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)).save(
        tmp_path / "in.png")
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a CI job may ignore it)
    try:
        code = run_edit(str(tmp_path / "in.png"), "--drag", "5,5:35,35", "--steps", "2000",
                        "-o", str(tmp_path / "out.png"), "--engine", engine.address)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored after the drag
    finally:
        signal.signal(signal.SIGINT, outer)
    assert code == 0 and (tmp_path / "out.png").exists()
    err = capsys.readouterr().err
    assert "finishing the drag" in err and "finished early" in err
    steps = int(err.rsplit(" steps, finished early", 1)[0].rsplit("\n", 1)[-1])
    assert 3 <= steps < 2000


def test_a_ctrl_c_the_shell_ignores_stays_ignored_during_the_drag():
    outer = signal.signal(signal.SIGINT, signal.SIG_IGN)  # e.g. `latentdrag edit … &` from a script
    try:
        with edit_cmd.first_interrupt_finishes(threading.Event()):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, outer)


def test_edit_errors_are_one_line(engine, tmp_path):
    with pytest.raises(CliError, match="X,Y:X2,Y2"):
        run_edit(str(tmp_path / "in.png"), "--drag", "1,2:3", "-o", str(tmp_path / "o.png"))
    with pytest.raises(CliError, match="cannot read"):
        run_edit(str(tmp_path / "missing.png"), "--drag", "1,2:3,4", "-o", str(tmp_path / "o.png"))
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "in.png")
    with pytest.raises(CliError, match="outside"):
        run_edit(str(tmp_path / "in.png"), "--drag", "1,2:300,4", "-o", str(tmp_path / "o.png"),
                 "--engine", engine.address)


def test_points_off_the_picture_are_refused_before_any_engine_work(tmp_path):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "in.png")
    # No engine listens on this address: the check must come first, without connecting or inverting.
    with pytest.raises(CliError, match=r"--drag #2: target \(31, 4\) is outside the 30x20 image"):
        run_edit(str(tmp_path / "in.png"), "--drag", "1,2:3,4", "--drag", "5,5:31,4", "-o", str(tmp_path / "o.png"),
                 "--engine", "127.0.0.1:1")
