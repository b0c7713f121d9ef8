"""Developer entry point for shared layer migrations: `python -m cityhub.sharedlayer upgrade|current|revision`."""

from __future__ import annotations

import argparse

from alembic import command

from .engine import engine_for
from .migrate import alembic_config, current_revision, upgrade


def main(argv: list[str] | None = None) -> None:
    """Upgrade a database, show its revision, or write a new revision file into the package."""
    parser = argparse.ArgumentParser(prog="python -m cityhub.sharedlayer")
    parser.add_argument("action", choices=["upgrade", "current", "revision"])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the shared layer")
    parser.add_argument("-m", "--message", help="revision message (revision only)")
    parser.add_argument("--autogenerate", action="store_true", help="diff schema.py against the database at --url")
    args = parser.parse_args(argv)
    if args.action == "upgrade":
        print(upgrade(args.url))
    elif args.action == "current":
        print(current_revision(args.url))
    else:
        _write_revision(args.url, args.message or "change", args.autogenerate)


def _write_revision(url: str, message: str, autogenerate: bool) -> None:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=autogenerate)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
