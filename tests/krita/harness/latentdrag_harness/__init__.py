"""Test harness plugin: once Krita's first window exists, run `main()` of the script named in
LATENTDRAG_HARNESS_SCRIPT and exit Krita with its return code (os._exit: Krita swallows sys.exit)."""
import os
import runpy
import sys
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer

SCRIPT = os.environ.get("LATENTDRAG_HARNESS_SCRIPT")


class Harness(Extension):
    def setup(self) -> None:
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(1500, self._run))

    def createActions(self, window) -> None:
        pass

    def _run(self) -> None:
        code = 3
        try:
            code = int(runpy.run_path(SCRIPT)["main"]() or 0)
        except BaseException:  # noqa: BLE001 - any failure must end Krita with a non-zero code
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if SCRIPT:
    Krita.instance().addExtension(Harness(Krita.instance()))
