"""``python -m flotilla.runtime --package DIR --entrypoint model.py:Class --port N``."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import sys
from pathlib import Path

from flotilla.runtime.loader import EntrypointError, parse_entrypoint
from flotilla.runtime.server import EXIT_INTERNAL, Options, ReplicaServer


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m flotilla.runtime",
        description="Serve one model package: POST /predict, GET /healthz, GET /ready.",
    )
    parser.add_argument("--package", required=True, type=Path, help="the model package folder")
    parser.add_argument(
        "--entrypoint", required=True, help="file and class in the package, e.g. model.py:Echo"
    )
    parser.add_argument("--port", required=True, type=_port, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--threads", type=_positive_int, default=4, help="threads for a plain def predict"
    )
    parser.add_argument(
        "--max-body-bytes", type=_positive_int, default=64 * 2**20, help="larger bodies get 413"
    )
    parser.add_argument(
        "--keep-alive-timeout", type=_seconds, default=75.0, help="idle connections close after"
    )
    parser.add_argument(
        "--grace-period", type=_seconds, default=30.0, help="SIGTERM waits this long for requests"
    )
    args = parser.parse_args(argv)
    if not args.package.is_dir():
        parser.error(f"--package {args.package} is not a folder")
    try:
        parse_entrypoint(args.entrypoint)
    except EntrypointError as error:
        parser.error(str(error))
    return Options(
        package=args.package.resolve(),
        entrypoint=args.entrypoint,
        host=args.host,
        port=args.port,
        threads=args.threads,
        max_body_bytes=args.max_body_bytes,
        keep_alive_timeout=args.keep_alive_timeout,
        grace_period=args.grace_period,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)  # exits with EXIT_USAGE (2) on a bad command line
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # the model's prints reach the logs promptly
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    server = ReplicaServer(options)
    try:
        code = asyncio.run(server.run())
    except Exception:
        logging.getLogger("flotilla.runtime").exception("the replica server failed")
        code = EXIT_INTERNAL
    if server.abandoned_work:  # a worker thread is stuck in user code: do not wait for it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
