"""Install the GIMP 3 plug-in into a GIMP profile.

GIMP 3 runs a Python plug-in only from `<profile>/plug-ins/NAME/NAME.py`, and only when that file is
executable and the folder has the file's name; anything else fails silently (the menu entry simply does
not appear), so the installer enforces the layout. The engine client is bundled under
`NAME/vendor/engine/client`; grpcio/protobuf come from the system Python (Debian/Ubuntu: python3-grpcio,
python3-protobuf) or, with `with_grpc`, are pip-installed into `NAME/vendor` for GIMP's own Python.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.plugins import REPO_ROOT, PluginInstallError, copy_client_into
from engine.plugins.krita_install import vendor_grpc

PLUGIN_NAME = "latentdrag_gimp"
PLUGIN_SOURCE = REPO_ROOT / "gimp_plugin" / PLUGIN_NAME
HELPER_PACKAGE = "latentdrag_gimp_lib"


def default_profile_dir() -> Path:
    """GIMP 3's per-user profile folder on this platform (GIMP3_DIRECTORY wins, as in GIMP itself)."""
    if os.environ.get("GIMP3_DIRECTORY"):
        return Path(os.environ["GIMP3_DIRECTORY"])
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "GIMP" / "3.0"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "GIMP" / "3.0"
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "GIMP" / "3.0"


@dataclass(frozen=True)
class GimpInstallResult:
    plugin_file: Path
    symlinked: bool


def _make_executable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _stage(destination: Path, with_grpc: bool, python_version: str | None, platform: str | None) -> None:
    destination.mkdir(parents=True)
    shutil.copy(PLUGIN_SOURCE / f"{PLUGIN_NAME}.py", destination / f"{PLUGIN_NAME}.py")
    _make_executable(destination / f"{PLUGIN_NAME}.py")
    shutil.copytree(PLUGIN_SOURCE / HELPER_PACKAGE, destination / HELPER_PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    copy_client_into(destination / "vendor")
    if with_grpc:
        vendor_grpc(destination / "vendor", python_version, platform)


def install(profile_dir: Path | None = None, *, symlink: bool = False, with_grpc: bool = False,
            python_version: str | None = None, platform: str | None = None) -> GimpInstallResult:
    """Install (replacing an earlier install) into `profile_dir/plug-ins/latentdrag_gimp/`.

    A copied install is staged next to the target and renamed into place, so a failure never leaves a
    half-written plug-in that GIMP would register. With `symlink` the folder points at this checkout and
    the plug-in finds the client through the checkout.
    """
    profile_dir = profile_dir or default_profile_dir()
    plug_ins = profile_dir / "plug-ins"
    plugin_dir = plug_ins / PLUGIN_NAME
    staging = plug_ins / f".{PLUGIN_NAME}.installing"
    try:
        plug_ins.mkdir(parents=True, exist_ok=True)
        if symlink and with_grpc:
            raise PluginInstallError("--vendor-grpc needs a copied install; drop --symlink")
        if staging.exists():
            shutil.rmtree(staging)
        if not symlink:
            _stage(staging, with_grpc, python_version, platform)
        if plugin_dir.is_symlink() or plugin_dir.is_file():
            plugin_dir.unlink()
        elif plugin_dir.is_dir():
            shutil.rmtree(plugin_dir)
        if symlink:
            _make_executable(PLUGIN_SOURCE / f"{PLUGIN_NAME}.py")
            plugin_dir.symlink_to(PLUGIN_SOURCE, target_is_directory=True)
        else:
            staging.rename(plugin_dir)
    except OSError as exc:
        raise PluginInstallError(f"cannot install into {plug_ins}: {exc.strerror or exc}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return GimpInstallResult(plugin_dir / f"{PLUGIN_NAME}.py", symlink)
