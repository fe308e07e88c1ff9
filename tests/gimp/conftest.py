"""The GIMP plug-in's pure helpers live next to the plug-in file (they are installed with it), not in the
`engine` package: make them importable the way the plug-in itself imports them."""
import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "gimp_plugin" / "latentdrag_gimp"
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))
