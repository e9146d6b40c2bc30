"""The background-music catalogue: re-create the synthesised tracks, or list them.

    .venv/bin/python tools/music_catalogue.py generate [--out DIR]   # shared/assembly/assets/music by default
    .venv/bin/python tools/music_catalogue.py list

`generate` writes every recipe of shared.assembly.music as AAC (.m4a), an 8 s preview of each (previews/) and
catalogue.json (mood, default styles, licence CC0-1.0 and how each track was made), deterministically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.assembly.music import MUSIC_DIR, generate, load_catalogue


def main(argv: list[str] | None = None) -> int:
    """CLI: `generate [--out DIR]` or `list`."""
    parser = argparse.ArgumentParser(prog="tools/music_catalogue.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="re-create the music tracks and catalogue.json")
    gen.add_argument("--out", type=Path, default=MUSIC_DIR)
    sub.add_parser("list", help="print the catalogue")
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate(args.out)
    else:
        for track in load_catalogue():
            print(f"{track.id}\t{track.category}\t{track.duration:.1f}s\t{','.join(track.default_for)}\t"
                  f"{track.licence}\t{track.preview}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
