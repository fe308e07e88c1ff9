"""Saves a PNG of one X window (by id) as the screen shows it: `python3 screenshot.py WINDOW_ID OUT.png`.
Runs with the chroot's Python and GTK, beside the full GIMP of the GUI tests."""
import sys

import gi

gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GdkX11  # noqa: E402


def main(window_id: int, path: str) -> None:
    display = GdkX11.X11Display.get_default()
    window = GdkX11.X11Window.foreign_new_for_display(display, window_id)
    _, x, y = window.get_origin()
    pixbuf = Gdk.pixbuf_get_from_window(Gdk.get_default_root_window(), x, y, window.get_width(), window.get_height())
    pixbuf.savev(path, "png", [], [])


main(int(sys.argv[1]), sys.argv[2])
