"""`latentdrag install-plugin krita` / `package-plugin krita`: files, kritarc, zip, vendored client."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.cli import main
from engine.plugins import krita_install
from engine.plugins.krita_install import enable_in_kritarc


def run_cli(*argv: str) -> int:
    """The real `latentdrag` entry point (so the subcommands' registration is tested too)."""
    return main(list(argv))


def test_enable_adds_section_or_key_and_keeps_everything_else():
    assert enable_in_kritarc("") == "[python]\nenable_latentdrag_krita=true\n"
    original = "[General]\nKey%20With=Spaces, and %(stuff)s\n\n[python]\nenable_other=true\n[Zzz]\nA=1\n"
    edited = enable_in_kritarc(original)
    assert edited == ("[General]\nKey%20With=Spaces, and %(stuff)s\n\n[python]\nenable_latentdrag_krita=true\n"
                      "enable_other=true\n[Zzz]\nA=1\n")
    assert enable_in_kritarc(edited) == edited
    assert "enable_latentdrag_krita=true" in enable_in_kritarc("[python]\nenable_latentdrag_krita=false\n")
    assert "false" not in enable_in_kritarc("[python]\nenable_latentdrag_krita=false\n")


def test_install_copies_plugin_with_client_and_enables_it(tmp_path, capsys):
    kritarc = tmp_path / "config" / "kritarc"
    kritarc.parent.mkdir()
    kritarc.write_text("[MainWindow]\nState=abc\n")
    assert run_cli("install-plugin", "krita", "--profile", str(tmp_path / "krita"), "--kritarc", str(kritarc)) == 0
    pykrita = tmp_path / "krita" / "pykrita"
    plugin = pykrita / "latentdrag_krita"
    assert (pykrita / "latentdrag_krita.desktop").read_text().count("X-KDE-Library=latentdrag_krita") == 1
    assert (plugin / "docker.py").is_file() and not (plugin / "docker.py").is_symlink()
    assert (plugin / "vendor" / "engine" / "client" / "client.py").is_file()
    assert not list(plugin.rglob("__pycache__"))
    assert kritarc.read_text() == "[MainWindow]\nState=abc\n\n[python]\nenable_latentdrag_krita=true\n"
    assert "Restart Krita" in capsys.readouterr().out
    # A second install replaces the first (no stale files survive).
    (plugin / "stale.py").write_text("")
    run_cli("install-plugin", "krita", "--profile", str(tmp_path / "krita"), "--kritarc", str(kritarc))
    assert not (plugin / "stale.py").exists()


def test_symlink_install_points_into_the_checkout(tmp_path):
    result = krita_install.install(tmp_path / "krita", tmp_path / "kritarc", symlink=True)
    assert result.plugin_dir.is_symlink()
    assert result.plugin_dir.resolve() == krita_install.PLUGIN_SOURCE / "latentdrag_krita"


def test_user_errors_are_one_line_messages(tmp_path, capsys):
    assert run_cli("install-plugin", "krita", "--profile", str(tmp_path / "k2"), "--kritarc", str(tmp_path / "rc"),
                   "--symlink", "--vendor-grpc") == 1
    assert "error: --vendor-grpc needs a copied install; drop --symlink" in capsys.readouterr().err
    assert run_cli("package-plugin", "krita", "-o", str(tmp_path / "x.zip"), "--platform", "win_amd64") == 1
    assert "only apply with --vendor-grpc" in capsys.readouterr().err
    assert run_cli("package-plugin", "krita", "-o", str(tmp_path / "x.tar")) == 1
    assert "must be a .zip" in capsys.readouterr().err


def test_package_is_a_zip_krita_can_import(tmp_path):
    out = tmp_path / "dist" / "latentdrag-krita.zip"
    assert run_cli("package-plugin", "krita", "-o", str(out)) == 0
    names = zipfile.ZipFile(out).namelist()
    assert "latentdrag_krita.desktop" in names
    assert "latentdrag_krita/__init__.py" in names
    assert "latentdrag_krita/vendor/engine/client/_gen/latentdrag/v1/engine_pb2.py" in names
    assert not [name for name in names if "__pycache__" in name or name.startswith("/")]


KRITA_IMPORTER = Path("/usr/share/krita/pykrita/plugin_importer/plugin_importer.py")


@pytest.mark.skipif(not KRITA_IMPORTER.exists(), reason="Krita is not installed (scripts/setup-krita.sh)")
def test_krita_own_importer_accepts_the_zip(tmp_path):
    """Tools → Scripts → Import Python Plugin from File… runs this module; it needs the NAME/ entry."""
    archive = tmp_path / "latentdrag-krita.zip"
    run_cli("package-plugin", "krita", "-o", str(archive))
    resources = tmp_path / "resources"
    resources.mkdir()
    out = subprocess.run([sys.executable, str(KRITA_IMPORTER), str(archive), str(resources)], capture_output=True,
                         text=True, check=True).stdout
    assert "Imported plugin: Latent Drag" in out
    assert (resources / "pykrita" / "latentdrag_krita.desktop").is_file()
    assert (resources / "pykrita" / "latentdrag_krita" / "vendor" / "engine" / "client" / "client.py").is_file()


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="needs the system Python Krita uses")
def test_vendored_client_imports_in_krita_python_without_torch(tmp_path):
    """Krita's Python (Debian: system python3 with python3-grpcio 1.51 / protobuf 4.21) loads the client."""
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import grpc, google.protobuf"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("system python3 has no grpcio/protobuf (scripts/setup-krita.sh installs them)")
    result = krita_install.install(tmp_path / "krita", tmp_path / "kritarc")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "from latentdrag_krita.client_import import import_client; m = import_client(); "
              "import grpc; print(m.EngineClient.__name__, grpc.__version__, 'torch' in sys.modules, m.__file__)")
    out = subprocess.run([str(SYSTEM_PYTHON), "-c", script, str(result.plugin_dir.parent)], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "EngineClient"
    assert out[2] == "False"
    assert out[3].startswith(str(result.plugin_dir / "vendor"))


def test_vendor_grpc_asks_pip_for_binary_wheels_with_their_dependencies(tmp_path, monkeypatch):
    """Foreign-platform vendoring must keep dependency resolution (grpcio needs typing-extensions)."""
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1 if len(calls) > 1 else 0, "", "ERROR: No matching distribution")

    monkeypatch.setattr(krita_install.subprocess, "run", fake_run)
    krita_install.vendor_grpc(tmp_path / "vendor", "3.10", "win_amd64")
    command = calls[0]
    assert command[1:4] == ["-m", "pip", "install"]
    assert "--only-binary=:all:" in command and "--no-deps" not in command
    assert command[command.index("--target") + 1] == str(tmp_path / "vendor")
    assert command[command.index("--python-version") + 1] == "3.10"
    assert command[command.index("--platform") + 1] == "win_amd64"
    assert command[-2:] == krita_install.GRPC_REQUIREMENTS
    with pytest.raises(krita_install.PluginInstallError, match="No matching distribution"):
        krita_install.vendor_grpc(tmp_path / "vendor")
