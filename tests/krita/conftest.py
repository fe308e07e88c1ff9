"""Makes the plugin package importable in plain pytest (its Krita-only modules are never imported here)."""
import sys
from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parents[2] / "krita_plugin"
if str(PLUGIN_ROOT) not in sys.path:
    sys.path.insert(0, str(PLUGIN_ROOT))
