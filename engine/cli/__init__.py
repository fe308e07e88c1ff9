"""`latentdrag` command line. Each subcommand group lives in its own module with a `register(sub)`
function that adds its parsers; a command's handler is stored as `func` and returns an exit code."""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute subcommands, in the order they appear in --help.
COMMAND_MODULES = [
    "engine.cli.models_cmd",
    "engine.cli.plugins_cmd",
    "engine.cli.explore_cmd",
    "engine.cli.serve_cmd",
    "engine.cli.demo_cmd",
    "engine.cli.edit_cmd",
]


class CliError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentdrag", description="Drag-to-edit for GAN images: engine, editing tools and editor plugins.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"latentdrag {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
