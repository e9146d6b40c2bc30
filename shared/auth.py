"""The operators' command for API keys (kept at this path: `python -m shared.auth …` is a documented interface).

    python -m shared.auth create-key --user alice [--plan pro] [--label laptop]   prints the key once
    python -m shared.auth revoke-key <key id>

The keys themselves are shared.api.auth's business; this module only parses the command line.
"""
from __future__ import annotations

import argparse
import sys

from google.cloud import firestore

from shared.api.auth import create_api_key, revoke_api_key
from shared.api.quotas import PLANS
from shared.core.config import load_settings


def main(argv: list[str] | None = None) -> int:
    """`create-key --user U [--plan P] [--label L]` prints a new key; `revoke-key ID` revokes one."""
    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="API keys of the front door")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key (printed once)")
    create.add_argument("--user", required=True)
    create.add_argument("--plan", choices=sorted(PLANS))
    create.add_argument("--label", default="")
    revoke = commands.add_parser("revoke-key", help="revoke an API key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    settings = load_settings()
    db = firestore.Client(project=settings.project, database=settings.firestore_database)
    if args.command == "create-key":
        print(create_api_key(db, args.user, plan=args.plan, label=args.label))
        return 0
    if revoke_api_key(db, args.key_id):
        print(f"revoked {args.key_id}")
        return 0
    print(f"no key {args.key_id}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
