"""Makes the plugin package (its pure modules; the Krita-only ones are never imported here) and the
shared `tests.support` helpers importable in plain pytest."""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
for folder in (REPO_ROOT / "krita_plugin", REPO_ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
