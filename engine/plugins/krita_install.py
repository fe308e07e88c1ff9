"""Install the Krita plugin into a Krita profile, or pack it as a zip for "Import Python Plugin from File".

Krita loads Python plugins from `<resource folder>/pykrita/` (a `NAME.desktop` file plus the `NAME/`
package) and runs only those enabled in `kritarc` (`[python] enable_NAME=true`). The plugin needs the
engine client and grpcio/protobuf inside Krita's Python: the client is always bundled under
`NAME/vendor/engine/client`; grpcio/protobuf come from the system (Debian/Ubuntu: python3-grpcio) or, with
`vendor_grpc`, are pip-installed into `NAME/vendor` for Krita's Python version and platform.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.plugins import REPO_ROOT, PluginInstallError, copy_client_into

PLUGIN_NAME = "latentdrag_krita"
PLUGIN_SOURCE = REPO_ROOT / "krita_plugin"
GRPC_REQUIREMENTS = ["grpcio>=1.51", "protobuf>=4.21"]


def default_resource_dir() -> Path:
    """Krita's per-user resource folder (holds pykrita/) on this platform."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "krita"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "krita"
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "krita"


def default_kritarc() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "kritarc"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Preferences" / "kritarc"
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kritarc"


def enable_in_kritarc(text: str, plugin_name: str = PLUGIN_NAME) -> str:
    """Set `enable_<plugin>=true` in the `[python]` section, leaving every other line as it was.

    A line-based edit rather than configparser: kritarc is a Qt settings file whose keys and values
    configparser would lower-case, interpolate or reformat.
    """
    key = f"enable_{plugin_name}"
    lines = text.splitlines()
    section_start = next((i for i, line in enumerate(lines) if line.strip() == "[python]"), None)
    if section_start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[python]", f"{key}=true"]
        return "\n".join(lines) + "\n"
    section_end = next((i for i in range(section_start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    for i in range(section_start + 1, section_end):
        if lines[i].split("=", 1)[0].strip() == key:
            lines[i] = f"{key}=true"
            break
    else:
        lines.insert(section_start + 1, f"{key}=true")
    return "\n".join(lines) + "\n"


def vendor_grpc(vendor_dir: Path, python_version: str | None = None, platform: str | None = None) -> None:
    """pip-install grpcio and protobuf wheels into `vendor_dir` for Krita's Python (binary wheels only).

    `python_version` ("3.10") and `platform` ("win_amd64", "macosx_11_0_arm64", ...) select wheels for a
    Krita whose bundled Python differs from the one running this command.
    """
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
               "--upgrade", "--only-binary=:all:", "--target", str(vendor_dir)]
    if python_version:
        command += ["--python-version", python_version]
    if platform:
        command += ["--platform", platform]  # with --only-binary pip still resolves dependencies
    result = subprocess.run(command + GRPC_REQUIREMENTS, capture_output=True, text=True)
    if result.returncode != 0:
        raise PluginInstallError("pip could not vendor grpcio/protobuf: "
                                 + (result.stderr.strip().splitlines() or ["(no output)"])[-1])


@dataclass(frozen=True)
class InstallResult:
    plugin_dir: Path
    desktop_file: Path
    kritarc: Path
    symlinked: bool


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _stage_package(destination: Path, with_grpc: bool, python_version: str | None, platform: str | None) -> None:
    """Copy the plugin package to `destination` with its vendored client (and grpc when asked)."""
    shutil.copytree(PLUGIN_SOURCE / PLUGIN_NAME, destination,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "vendor"))
    copy_client_into(destination / "vendor")
    if with_grpc:
        vendor_grpc(destination / "vendor", python_version, platform)


def install(resource_dir: Path | None = None, kritarc: Path | None = None, *, symlink: bool = False,
            with_grpc: bool = False, python_version: str | None = None, platform: str | None = None
            ) -> InstallResult:
    """Install (replacing an earlier install) and enable the plugin; Krita picks it up on next start.

    With `symlink`, the profile points at this checkout (edits take effect on restart); the plugin then
    finds the client through the checkout instead of a vendored copy.
    """
    resource_dir = resource_dir or default_resource_dir()
    kritarc = kritarc or default_kritarc()
    pykrita = resource_dir / "pykrita"
    try:
        pykrita.mkdir(parents=True, exist_ok=True)
        plugin_dir = pykrita / PLUGIN_NAME
        desktop = pykrita / f"{PLUGIN_NAME}.desktop"
        _remove(plugin_dir)
        _remove(desktop)
        if symlink:
            if with_grpc:
                raise PluginInstallError("--vendor-grpc needs a copied install; drop --symlink")
            plugin_dir.symlink_to(PLUGIN_SOURCE / PLUGIN_NAME, target_is_directory=True)
            desktop.symlink_to(PLUGIN_SOURCE / f"{PLUGIN_NAME}.desktop")
        else:
            _stage_package(plugin_dir, with_grpc, python_version, platform)
            shutil.copy2(PLUGIN_SOURCE / f"{PLUGIN_NAME}.desktop", desktop)
        kritarc.parent.mkdir(parents=True, exist_ok=True)
        existing = kritarc.read_text(encoding="utf-8") if kritarc.exists() else ""
        kritarc.write_text(enable_in_kritarc(existing), encoding="utf-8")
    except OSError as exc:
        raise PluginInstallError(f"cannot install into {resource_dir}: {exc.strerror or exc}") from None
    return InstallResult(plugin_dir, desktop, kritarc, symlink)


def package(output: Path, *, with_grpc: bool = False, python_version: str | None = None,
            platform: str | None = None) -> Path:
    """Write a zip that Krita's Tools → Scripts → Import Python Plugin from File… accepts."""
    if output.suffix.lower() != ".zip":
        raise PluginInstallError(f"the output must be a .zip file, got {output.name!r}")
    with tempfile.TemporaryDirectory(prefix="latentdrag-krita-") as staging:
        root = Path(staging)
        _stage_package(root / PLUGIN_NAME, with_grpc, python_version, platform)
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.write(PLUGIN_SOURCE / f"{PLUGIN_NAME}.desktop", f"{PLUGIN_NAME}.desktop")
                # Directory entries too: Krita's importer finds the package by its "NAME/" entry.
                archive.write(root / PLUGIN_NAME, f"{PLUGIN_NAME}/")
                for path in sorted((root / PLUGIN_NAME).rglob("*")):
                    name = path.relative_to(root).as_posix()
                    archive.write(path, f"{name}/" if path.is_dir() else name)
        except OSError as exc:
            raise PluginInstallError(f"cannot write {output}: {exc.strerror or exc}") from None
    return output
