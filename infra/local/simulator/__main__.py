"""`python -m infra.local.simulator --host 127.0.0.1 --port 8090 [--data-dir DIR]`: run the simulator."""
from __future__ import annotations

import argparse
import logging

from infra.local.simulator.server import create_app
from shared.core.config import LocalPorts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m infra.local.simulator",
                                     description="Local Gemini + Veo 3.1 simulator (google-genai REST protocol).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=LocalPorts().simulator)
    parser.add_argument("--data-dir", default=None, help="where videos are kept (default: a new temp dir)")
    parser.add_argument("--min-latency-seconds", type=float, default=0.0,
                        help="no operation completes sooner than this after it was accepted")
    parser.add_argument("--workers", type=int, default=1, help="clips rendered in parallel")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    args = parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our own JSON lines are enough
    app = create_app(args.data_dir, min_latency_seconds=args.min_latency_seconds, workers=args.workers)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
