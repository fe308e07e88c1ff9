"""`latentdrag install-plugin TARGET` and `latentdrag package-plugin TARGET -o FILE.zip`.

Each editor target is a (install, package) pair of functions registered in TARGETS; the editor-specific
work lives in `engine/plugins/<editor>_install.py`, this module only parses arguments and reports.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from engine.cli import CliError
from engine.plugins import PluginInstallError


def _install_krita(args: argparse.Namespace) -> str:
    from engine.plugins import krita_install
    result = krita_install.install(args.profile, args.kritarc, symlink=args.symlink, with_grpc=args.vendor_grpc,
                                   python_version=args.python_version, platform=args.platform)
    how = "linked" if result.symlinked else "installed"
    return (f"Krita plugin {how} at {result.plugin_dir}\nenabled in {result.kritarc}\n"
            "Restart Krita, then open Settings → Dockers → Latent Drag.")


def _package_krita(args: argparse.Namespace) -> str:
    from engine.plugins import krita_install
    path = krita_install.package(args.output, with_grpc=args.vendor_grpc, python_version=args.python_version,
                                 platform=args.platform)
    return (f"wrote {path}\nIn Krita: Tools → Scripts → Import Python Plugin from File…, pick the zip, "
            "enable it, restart Krita.")


def _install_gimp(args: argparse.Namespace) -> str:
    from engine.plugins import gimp_install
    if args.kritarc:
        raise CliError("--kritarc only applies to the krita target")
    result = gimp_install.install(args.profile, symlink=args.symlink, with_grpc=args.vendor_grpc,
                                  python_version=args.python_version, platform=args.platform)
    how = "linked" if result.symlinked else "installed"
    return (f"GIMP plug-in {how} at {result.plugin_file}\nRestart GIMP, start the engine (`latentdrag serve`), "
            "then use Filters → Generative → Latent Drag… on a layer with a drag path.")


# Editor name → (install handler, package handler). Each handler returns the message to print.
TARGETS: dict[str, tuple[Callable[[argparse.Namespace], str], Callable[[argparse.Namespace], str] | None]] = {
    "krita": (_install_krita, _package_krita),
    "gimp": (_install_gimp, None),
}


def _add_vendor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vendor-grpc", action="store_true",
                        help="pip-install grpcio and protobuf into the plugin (for editors whose Python lacks "
                             "them, e.g. Krita on Windows/macOS or AppImage)")
    parser.add_argument("--python-version", metavar="X.Y",
                        help="with --vendor-grpc: the editor's Python version if it differs from this one")
    parser.add_argument("--platform", metavar="TAG",
                        help="with --vendor-grpc: wheel platform tag, e.g. win_amd64, macosx_11_0_arm64")


def _run(handler_index: int, args: argparse.Namespace) -> int:
    handler = TARGETS[args.target][handler_index]
    if handler is None:
        raise CliError(f"packaging is not available for {args.target}")
    if (args.python_version or args.platform) and not args.vendor_grpc:
        raise CliError("--python-version and --platform only apply with --vendor-grpc")
    try:
        print(handler(args))
    except PluginInstallError as exc:
        raise CliError(str(exc)) from None
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    install = sub.add_parser("install-plugin", help="install an editor plugin into your profile and enable it")
    install.add_argument("target", choices=sorted(TARGETS), help="which editor")
    install.add_argument("--profile", type=Path, metavar="DIR",
                         help="the editor's resource folder (Krita: the folder holding pykrita/; GIMP: the "
                              "profile holding plug-ins/; default: the platform's usual place)")
    install.add_argument("--kritarc", type=Path, metavar="FILE", help="Krita: settings file to enable the plugin in")
    install.add_argument("--symlink", action="store_true",
                         help="link to this checkout instead of copying (for plugin development)")
    _add_vendor_options(install)
    install.set_defaults(func=lambda args: _run(0, args))

    package = sub.add_parser("package-plugin", help="write an editor plugin as an installable zip")
    package.add_argument("target", choices=sorted(TARGETS), help="which editor")
    package.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.zip")
    _add_vendor_options(package)
    package.set_defaults(func=lambda args: _run(1, args))
