"""Find the engine client inside Krita's Python: the copy vendored by the installer, or the source checkout
a development (symlinked) install points into. grpcio/protobuf come from the system or the vendor folder."""
from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

PLUGIN_DIR = Path(__file__).resolve().parent
VENDOR_DIR = PLUGIN_DIR / "vendor"
CHECKOUT_ROOT = PLUGIN_DIR.parents[1]  # krita_plugin/latentdrag_krita → repository root (symlinked install)

GRPC_MISSING_HINT = (
    "Krita's Python has no grpcio/protobuf. On Debian/Ubuntu: sudo apt install python3-grpcio python3-protobuf. "
    "Elsewhere reinstall the plugin with: latentdrag install-plugin krita --vendor-grpc "
    "(or package-plugin krita --vendor-grpc -o latentdrag-krita.zip and import the zip).")


class ClientUnavailable(RuntimeError):
    """The client or its grpcio/protobuf dependency cannot be imported; the message says how to fix it."""


def client_search_path() -> Path | None:
    """The folder to put on sys.path so that `import engine.client` finds the client."""
    if (VENDOR_DIR / "engine" / "client").is_dir():
        return VENDOR_DIR
    if (CHECKOUT_ROOT / "engine" / "client" / "__init__.py").is_file():
        return CHECKOUT_ROOT
    return None


def import_client() -> ModuleType:
    """`engine.client`, importing grpc from the vendor folder when the plugin carries one."""
    if VENDOR_DIR.is_dir() and str(VENDOR_DIR) not in sys.path:
        sys.path.insert(0, str(VENDOR_DIR))
    location = client_search_path()
    if location is None:
        raise ClientUnavailable("the engine client is not bundled with the plugin; reinstall it with "
                                "latentdrag install-plugin krita")
    if str(location) not in sys.path:
        sys.path.insert(0, str(location))
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError:
        raise ClientUnavailable(GRPC_MISSING_HINT) from None
    import engine.client
    return engine.client
