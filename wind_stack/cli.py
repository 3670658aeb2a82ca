"""`wind-stack up [--live]|down|status`: start, stop and show the local stack (`make up/down/status`)."""

from __future__ import annotations

import argparse
import sys

from wind_stack import StackError
from wind_stack.dagster_instance import DAGSTER_DB, is_stack_written
from wind_stack.stack import default_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wind-stack", description="Start and stop the local embedded stack."
    )
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "forget-env"],
        help="forget-env: take the stack's lines out of .env, keeping yours (make clean)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="with up: write WIND_LIVE=true into .env (make live); a plain up writes false",
    )
    args = parser.parse_args(argv)
    stack = default_stack()
    stack.live = args.live
    try:
        if args.command == "up":
            stack.up()
            print(f"stack up: PostgreSQL on 127.0.0.1:{stack.postgres.port}, API {stack.api_url}")
            mode = "live" if stack.live else "fixed (the design card's ten days)"
            print(f"settings written to {stack.env_file}; mode: {mode}")
            if stack.dagster_home is not None:
                yaml_file = stack.dagster_home / "dagster.yaml"
                if is_stack_written(stack.dagster_home):
                    print(f"Dagster instance: {yaml_file} (storage in database {DAGSTER_DB!r})")
                else:
                    print(f"Dagster instance: {yaml_file} is your own; left as it is")
        elif args.command == "forget-env":
            stack.forget_env_file()
            print(f"the stack's settings removed from {stack.env_file} (your own lines kept)")
        elif args.command == "down":
            stack.down()
            print("stack down (data kept in .stack/)")
        else:
            for key, value in stack.status().items():
                print(f"{key}: {value}")
    except StackError as exc:
        print(f"wind-stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
