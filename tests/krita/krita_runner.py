"""Start real Krita 5 under Xvfb with the installed Latent Drag plugin and the test-harness plugin.

Each run gets its own HOME, TMPDIR and XDG_RUNTIME_DIR (a second Krita of the same user would hand its
work to the first and exit), the plugin installed by the real `install-plugin` code, and both plugins
enabled in a fresh kritarc. The harness runs `harness/scenarios.py` once the window exists.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

from engine.plugins import krita_install

HARNESS_DIR = Path(__file__).resolve().parent / "harness"


@contextlib.contextmanager
def virtual_display(log) -> Iterator[str]:
    """An Xvfb server on a display number it picks itself (-displayfd), so parallel runs never collide."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,), stdout=log, stderr=log)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start (see the Krita log)")
        # Once (of many CI runs) Krita found no server on the display Xvfb had just reported; wait for its
        # socket too before anyone connects.
        socket = Path(f"/tmp/.X11-unix/X{number}")
        deadline = time.monotonic() + 10
        while not socket.exists():
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"Xvfb reported display :{number} but {socket} did not appear")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def krita_missing() -> str | None:
    """Why real-Krita tests cannot run here, or None."""
    for tool in ("krita", "Xvfb"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run scripts/setup-krita.sh)"
    return None


def prepare_profile(root: Path) -> dict[str, str]:
    """A throw-away Krita profile with both plugins; returns the environment to start Krita with."""
    home = root / "home"
    resources = home / ".local" / "share" / "krita"
    kritarc = home / ".config" / "kritarc"
    krita_install.install(resources, kritarc)
    pykrita = resources / "pykrita"
    (pykrita / "latentdrag_harness").symlink_to(HARNESS_DIR / "latentdrag_harness", target_is_directory=True)
    (pykrita / "latentdrag_harness.desktop").symlink_to(HARNESS_DIR / "latentdrag_harness.desktop")
    kritarc.write_text(krita_install.enable_in_kritarc(kritarc.read_text(), "latentdrag_harness"))
    runtime = root / "run"
    runtime.mkdir(mode=0o700)
    (root / "tmp").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), TMPDIR=str(root / "tmp"), XDG_RUNTIME_DIR=str(runtime),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CACHE_HOME=str(home / ".cache"), QT_QPA_PLATFORM="xcb")
    return env


def run_scenarios(root: Path, config: dict, timeout: float = 300) -> tuple[int, dict, str]:
    """(Krita's exit code, results.json, the end of Krita's log) for one Krita session."""
    root.mkdir(parents=True, exist_ok=True)
    out = root / "out"
    out.mkdir()
    config = dict(config, out_dir=str(out))
    config_path = root / "config.json"
    config_path.write_text(json.dumps(config))
    env = prepare_profile(root)
    env.update(LATENTDRAG_HARNESS_SCRIPT=str(HARNESS_DIR / "scenarios.py"),
               LATENTDRAG_HARNESS_CONFIG=str(config_path))
    log_path = root / "krita.log"
    command = ["timeout", str(int(timeout)), "krita", "--nosplash"]
    with open(log_path, "wb") as log:
        for _ in range(2):   # a second, fresh X server only when Qt could not reach the first
            with virtual_display(log) as display:
                env["DISPLAY"] = display
                code = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root).returncode
            log.flush()
            if code == 0 or b"could not connect to display" not in log_path.read_bytes():
                break
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    return code, results, log_path.read_text(errors="replace")[-4000:]
