"""`python -m api_service`: serve the Conektor with uvicorn, its log optionally in a rotating file.

    python -m api_service --port 8765 --log-file .stack/api.log

Without `--log-file` the log goes to stderr (for a terminal, or a container whose runtime
collects and rotates stdout/stderr). With it, every line (access, errors, start-up
failures) goes to that file, rotated at `--log-max-bytes` with `--log-backups` old files.
"""

from __future__ import annotations

import argparse
import logging
import logging.config

from api_service.defaults import LOCAL_API_PORT, LOCAL_HOST
from api_service.logging_config import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, log_config


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m api_service", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default=LOCAL_HOST)
    parser.add_argument("--port", type=int, default=LOCAL_API_PORT)
    parser.add_argument("--log-file", help="write the log here, rotated (default: stderr)")
    parser.add_argument("--log-max-bytes", type=_positive, default=DEFAULT_MAX_BYTES)
    parser.add_argument("--log-backups", type=_positive, default=DEFAULT_BACKUPS)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.config.dictConfig(
        log_config(args.log_file, args.log_max_bytes, args.log_backups, args.log_level)
    )
    logging.captureWarnings(True)
    log = logging.getLogger("api_service")
    try:
        from api_service.main import app  # reads the settings
    except SystemExit as exc:
        log.error("%s", exc.code)  # a bad setting, in one line: into the log file too
        raise

    import uvicorn

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        server_header=False,
        log_config=None,  # configured above, once: a second file handler would rotate apart
        log_level=args.log_level,
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
