"""Installing the editor plugins (Krita, GIMP) from a source checkout. No torch, no editor imports here."""
from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SOURCE = REPO_ROOT / "engine" / "client"


class PluginInstallError(Exception):
    """An install step the user can fix (missing folder, no write access, pip failure)."""


def copy_client_into(vendor_dir: Path) -> Path:
    """Bundle the engine client as `<vendor_dir>/engine/client` (plus the light `engine/__init__.py`).

    The client imports only grpcio and protobuf, so the editor's Python needs nothing of the engine's
    torch stack; keeping the `engine.client` import path means the client's own imports work unchanged.
    """
    if not (CLIENT_SOURCE / "__init__.py").is_file():
        raise PluginInstallError(f"the engine client is missing at {CLIENT_SOURCE}; run from a complete "
                                 "latentdrag source checkout")
    package_dir = vendor_dir / "engine"
    package_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "engine" / "__init__.py", package_dir / "__init__.py")
    target = package_dir / "client"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(CLIENT_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target
