"""`latentdrag install-plugin gimp`: the layout GIMP 3 demands, a client that imports without torch, and
replacing earlier installs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.plugins import PluginInstallError, gimp_install


def test_install_lays_out_an_executable_plugin_with_its_helpers_and_the_client(tmp_path):
    result = gimp_install.install(tmp_path / "profile")
    plugin = tmp_path / "profile" / "plug-ins" / "latentdrag_gimp" / "latentdrag_gimp.py"
    assert result.plugin_file == plugin and not result.symlinked
    assert os.access(plugin, os.X_OK), "GIMP silently ignores a plug-in file that is not executable"
    assert (plugin.parent / "latentdrag_gimp_lib" / "points.py").is_file()
    assert (plugin.parent / "vendor" / "engine" / "client" / "client.py").is_file()
    assert not list(plugin.parent.rglob("__pycache__"))


def test_bundled_client_and_helpers_import_without_torch_or_the_checkout(tmp_path):
    plugin_dir = gimp_install.install(tmp_path / "profile").plugin_file.parent
    # A fresh interpreter with the plug-in's folders first on the path (as the plug-in arranges it);
    # blocking torch and numpy makes any import of them fail loudly.
    probe = ("import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"
             "import engine.client, latentdrag_gimp_lib.jobs\n"
             "print(engine.client.__file__)")
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_dir), str(plugin_dir / "vendor")]), "PATH": os.environ["PATH"]}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(plugin_dir / "vendor")


def test_reinstall_replaces_old_files_and_leaves_no_staging_folder(tmp_path):
    profile = tmp_path / "profile"
    gimp_install.install(profile)
    stale = profile / "plug-ins" / "latentdrag_gimp" / "latentdrag_gimp_lib" / "removed_module.py"
    stale.write_text("")
    gimp_install.install(profile)
    assert not stale.exists()
    assert sorted(p.name for p in (profile / "plug-ins").iterdir()) == ["latentdrag_gimp"]


def test_symlink_install_points_at_the_checkout(tmp_path):
    result = gimp_install.install(tmp_path / "profile", symlink=True)
    link = result.plugin_file.parent
    assert link.is_symlink() and link.resolve() == gimp_install.PLUGIN_SOURCE.resolve()
    assert os.access(result.plugin_file, os.X_OK)


def test_symlink_with_vendored_grpc_is_refused(tmp_path):
    with pytest.raises(PluginInstallError, match="--vendor-grpc needs a copied install"):
        gimp_install.install(tmp_path / "profile", symlink=True, with_grpc=True)


def test_profile_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PluginInstallError, match="cannot install into"):
        gimp_install.install(blocker / "profile")


def test_default_profile_follows_gimp3_directory_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("GIMP3_DIRECTORY", str(tmp_path / "g3"))
    assert gimp_install.default_profile_dir() == tmp_path / "g3"
    monkeypatch.delenv("GIMP3_DIRECTORY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert gimp_install.default_profile_dir() == tmp_path / "xdg" / "GIMP" / "3.0"


def test_cli_installs_into_the_given_profile(tmp_path, capsys):
    assert cli_main(["install-plugin", "gimp", "--profile", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "plug-ins" / "latentdrag_gimp" / "latentdrag_gimp.py").is_file()
    assert "Filters → Generative → Latent Drag" in capsys.readouterr().out
