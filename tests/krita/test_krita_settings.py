"""What the docker keeps between Krita sessions (saved_settings), on a dict standing in for kritarc."""
from __future__ import annotations

from latentdrag_krita import saved_settings
from latentdrag_krita.job import DragSettings


class FakeKritarc:
    """Krita's readSetting / writeSetting over a dict of (group, key) → str."""

    def __init__(self, values: dict[str, str] | None = None):
        self.values = {(saved_settings.GROUP, key): value for key, value in (values or {}).items()}
        self.writes: list[tuple[str, str]] = []

    def read(self, group: str, key: str, default: str) -> str:
        return self.values.get((group, key), default)

    def write(self, group: str, key: str, value: str) -> None:
        self.values[(group, key)] = value
        self.writes.append((key, value))

    def load(self) -> DragSettings:
        return saved_settings.load(self.read, self.write)


# What version 1 saved as soon as a user changed anything: every setting, the step limit at its default.
VERSION_1 = {"address": "127.0.0.1:50999", "token": "", "model": "models/cats", "engine_command": "serve {address}",
             "method": "freedrag", "inversion_preset": "faithful", "max_steps": "200", "preview_every": "5"}


def test_a_fresh_profile_gets_the_defaults_and_only_the_version_is_written():
    kritarc = FakeKritarc()
    assert kritarc.load() == DragSettings()
    assert kritarc.writes == [("settings_version", "2")]
    assert DragSettings().max_steps == 500


def test_version_1_settings_keep_every_choice_but_follow_the_new_step_default():
    kritarc = FakeKritarc(VERSION_1)
    settings = kritarc.load()
    assert settings == DragSettings(address="127.0.0.1:50999", model="models/cats", engine_command="serve {address}",
                                    method="freedrag", inversion_preset="faithful", preview_every=5)
    assert settings.max_steps == DragSettings().max_steps
    assert kritarc.load() == settings  # migrated once: loading again changes nothing
    assert kritarc.writes == [("max_steps", ""), ("settings_version", "2")]


def test_a_step_limit_chosen_in_version_1_or_200_chosen_later_is_kept():
    assert FakeKritarc(dict(VERSION_1, max_steps="350")).load().max_steps == 350
    kritarc = FakeKritarc(VERSION_1)
    kritarc.load()
    saved_settings.save(kritarc.write, {"max_steps": 200})  # the user sets 200 in version 2: a choice
    assert kritarc.load().max_steps == 200


def test_save_writes_only_the_changed_settings():
    kritarc = FakeKritarc({"settings_version": "2"})
    saved_settings.save(kritarc.write, {"method": "freedrag", "preview_every": 0})
    assert kritarc.writes == [("method", "freedrag"), ("preview_every", "0")]
    assert kritarc.load() == DragSettings(method="freedrag", preview_every=0)


def test_a_value_that_no_longer_parses_or_validates_falls_back_to_its_default_alone():
    kritarc = FakeKritarc({"settings_version": "2", "max_steps": "abc", "method": "warpgan", "preview_every": "-3",
                           "inversion_preset": "faithful", "address": "10.0.0.2:50051"})
    assert kritarc.load() == DragSettings(inversion_preset="faithful", address="10.0.0.2:50051")
