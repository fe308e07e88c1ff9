"""`latentdrag serve`: run the engine until SIGTERM / Ctrl-C."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from engine.cli import CliError
from engine.client import DEFAULT_ADDRESS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the engine (gRPC) for Krita, GIMP and other clients",
                       description="Serve the bundled model (or --model) over gRPC until SIGTERM or Ctrl-C.")
    p.add_argument("--model", type=Path, help="default model file (default: the bundled model)")
    p.add_argument("--models", type=Path, metavar="DIR", help="also offer every model file in DIR")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--listen", default=DEFAULT_ADDRESS,
                   help=f"host:port or unix:/path (default {DEFAULT_ADDRESS}; non-loopback needs --token-file)")
    p.add_argument("--token-file", type=Path, help="file holding the bearer token clients must send")
    p.add_argument("--max-image-side", type=int, default=8192)
    p.add_argument("--max-message-mib", type=int, default=256, help="largest message either way (>= 64)")
    p.add_argument("--max-points", type=int, default=64)
    p.add_argument("--max-sessions", type=int, default=32)
    p.add_argument("--max-session-mib", type=int, default=4096, help="memory for layers and tuned generators")
    p.add_argument("--max-queued-jobs", type=int, default=4)
    p.add_argument("--session-ttl", type=float, default=7200.0, metavar="SECONDS")
    p.add_argument("--threads", type=int, metavar="N",
                   help="PyTorch CPU threads (default: one per core; on a busy machine fewer can be faster)")
    p.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16"),
                   help="drag and inversion passes: auto = bf16 where the CPU/GPU computes it natively")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=run_serve)


def _read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise CliError(f"cannot read --token-file {path}: {exc.strerror}") from None
    if len(token) < 16:
        raise CliError(f"--token-file {path}: the token must be at least 16 characters")
    return token


def run_serve(args: argparse.Namespace) -> int:
    from engine.service.config import MIB, ServiceConfig
    from engine.service.server import EngineServer, EngineStartError, JsonLogFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    try:
        config = ServiceConfig(
            listen=args.listen, device=args.device, model_path=args.model, models_dir=args.models,
            token=_read_token(args.token_file) if args.token_file else None,
            max_image_side=args.max_image_side, max_message_bytes=args.max_message_mib * MIB,
            max_points=args.max_points, max_sessions=args.max_sessions,
            max_session_bytes=args.max_session_mib * MIB, max_queued_jobs=args.max_queued_jobs,
            session_ttl_s=args.session_ttl, precision=args.precision, torch_threads=args.threads)
        server = EngineServer(config).start()
    except (ValueError, EngineStartError) as exc:  # ModelFileError is a ValueError
        raise CliError(str(exc)) from None
    server.install_signal_handlers()
    print(f"latentdrag engine listening on {server.address} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    server.wait()
    return 0
