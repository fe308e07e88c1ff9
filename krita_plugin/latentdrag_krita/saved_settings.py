"""The docker's settings as Krita keeps them between sessions (kritarc, group "latentdrag"), through
Krita's `readSetting` / `writeSetting`, passed in so that this is tested without Krita.

Only what the user changes is written (settings version 2). Version 1 wrote every setting whenever one
changed, so a saved step limit of 200, that version's default, is almost always the default written
along with another change rather than a choice. Loading version-1 settings forgets it once, so those
users get today's default (500) like new ones; any other saved value is kept.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from .job import DragSettings

GROUP = "latentdrag"
VERSION = "2"
VERSION_KEY = "settings_version"
VERSION_1_STEP_DEFAULT = "200"

Read = Callable[[str, str, str], str]  # (group, key, default) → value, as Krita.readSetting
Write = Callable[[str, str, str], None]  # (group, key, value), as Krita.writeSetting


def load(read: Read, write: Write) -> DragSettings:
    """The saved settings over the defaults; a value that no longer parses or validates (a removed
    method, a step limit of "abc") falls back to its default alone."""
    if read(GROUP, VERSION_KEY, "") != VERSION:
        if read(GROUP, "max_steps", "") == VERSION_1_STEP_DEFAULT:
            write(GROUP, "max_steps", "")
        write(GROUP, VERSION_KEY, VERSION)
    settings = DragSettings()
    for field in dataclasses.fields(DragSettings):
        stored = read(GROUP, field.name, "")
        if stored == "":
            continue
        try:
            value = int(stored) if isinstance(getattr(settings, field.name), int) else stored
            settings = dataclasses.replace(settings, **{field.name: value})
        except ValueError:
            continue
    return settings


def save(write: Write, changes: Mapping[str, object]) -> None:
    """Write the settings the user just changed, and only those."""
    for key, value in changes.items():
        write(GROUP, key, str(value))
