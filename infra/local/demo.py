"""Order one video from the local cloud and follow it to the end (what `make demo` runs after `up`).

    python -m infra.local.demo [--theme T] [--style S] [--language L] [--music M] [--preset P] [--timeout 900]
                               [--real]

Option defaults come from DEMO_THEME, DEMO_STYLE, DEMO_LANGUAGE, DEMO_MUSIC, DEMO_PRESET and DEMO_REAL when set
(the Makefile). POSTs the request to the script agent, follows video_status/{video_id} with a Firestore listener,
and on `completed` downloads the final video, thumbnail, subtitles and QA report into out/<video_id>/.
Exit status: 0 completed, 1 failed or rejected, 2 timed out.

REAL mode (`make demo REAL=1`, needs GEMINI_API_KEY): the same local cloud (emulators, fake GCS, agents), but the
agents call the real Gemini API instead of the simulator: the cheapest way to see a real video before creating a
Google Cloud project. It prints the job's estimate (shared.api.estimates, the numbers POST /estimate answers;
preset quick_social unless PRESET says otherwise) and starts nothing until CONFIRM=1 is given. The key goes to
the agents' process environment only, never to .local-cloud/env.sh. Without the key: a one-line message, exit 1.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google.cloud.storage as storage
from google.cloud import firestore

from infra.local.cloud import LocalCloud
from shared.api import auth, estimates
from shared.core.config import GEMINI_API
from shared.core.errors import InvalidInputError, Unauthenticated
from shared.core.storage import split_uri
from shared.pricing.prices import PRICES_AS_OF
from shared.script.writer import parse_request

DEFAULT_THEME = "A lighthouse keeper who befriends a storm"
STATUS_COLLECTION = "video_status"
TERMINAL_STATUSES = ("completed", "failed", "qa_failed")
EXIT_FAILED, EXIT_TIMEOUT = 1, 2
REAL_DEFAULT_PRESET = "quick_social"  # the cheapest preset: a real video for the least money
TIMEOUT_SECONDS, REAL_TIMEOUT_SECONDS = 900.0, 2400.0  # real Veo takes a minute or two per block
API_KEY_PAGE = "https://aistudio.google.com/apikey"
# Document field -> file name in out/<video_id>/ (vtt is optional).
DOWNLOADS = {
    "final_video_url": "final.mp4",
    "thumbnail_url": "thumbnail.jpg",
    "srt_url": "subtitles.srt",
    "qa_report_url": "qa_report.json",
    "vtt_url": "subtitles.vtt",
}
OPTIONAL_DOWNLOADS = ("vtt_url",)


class DemoError(Exception):
    """The demo cannot go on; the message says why."""


class DemoTimeout(DemoError):
    """The video did not reach a final status in time."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m infra.local.demo", description=__doc__.splitlines()[0])
    env = os.environ  # `make demo THEME=...` passes its options as DEMO_* variables
    parser.add_argument("--theme", default=env.get("DEMO_THEME") or DEFAULT_THEME)
    parser.add_argument("--style", default=env.get("DEMO_STYLE") or "cinematic")
    parser.add_argument("--language", default=env.get("DEMO_LANGUAGE") or "en")
    parser.add_argument("--music", default=env.get("DEMO_MUSIC") or None, help="music id (optional)")
    parser.add_argument("--preset", default=env.get("DEMO_PRESET") or None,
                        help=f"quality preset (default: the API's; {REAL_DEFAULT_PRESET} with --real)")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds to wait for the video (default {TIMEOUT_SECONDS:g}; "
                             f"{REAL_TIMEOUT_SECONDS:g} with --real)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the results")
    parser.add_argument("--real", action="store_true", default=env.get("DEMO_REAL") == "1",
                        help="the agents call the real Gemini API (GEMINI_API_KEY, CONFIRM=1); default: DEMO_REAL")
    args = parser.parse_args(argv)
    if args.real and not args.preset:
        args.preset = REAL_DEFAULT_PRESET
    if args.timeout is None:
        args.timeout = REAL_TIMEOUT_SECONDS if args.real else TIMEOUT_SECONDS
    return args


def request_body(args: argparse.Namespace) -> dict[str, str]:
    """The JSON body the script agent expects."""
    body = {"theme": args.theme, "style": args.style, "language": args.language}
    if args.music:
        body["music"] = args.music
    if getattr(args, "preset", None):
        body["preset"] = args.preset
    return body


def demo_api_key(db: Any, state_dir: Path, user_id: str = "demo") -> str:
    """The local demo user's API key: reused from state_dir/demo-api-key while valid, else created by
    the same code as `python -m shared.auth create-key`."""
    saved = state_dir / "demo-api-key"
    if saved.exists():
        try:
            auth.verify_api_key(db, saved.read_text().strip())
            return saved.read_text().strip()
        except Unauthenticated:
            pass  # the emulator was restarted: its keys are gone
    key = auth.create_api_key(db, user_id, plan="studio", label="make demo")
    state_dir.mkdir(parents=True, exist_ok=True)
    saved.write_text(key)
    saved.chmod(0o600)
    return key


def order_video(script_url: str, body: Mapping[str, str], api_key: str | None = None) -> dict[str, Any]:
    """POST the request; the agent's 202 answer ({video_id, status_url}) or DemoError."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
    req = urllib.request.Request(script_url, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer: dict[str, Any] = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise DemoError(f"request rejected ({exc.code}): {_error_text(exc.read())}") from exc
    except urllib.error.URLError as exc:
        raise DemoError(f"cannot reach the script agent at {script_url} ({exc.reason}); "
                        "is the local cloud up? (make up)") from exc
    if not answer.get("video_id"):
        raise DemoError(f"the script agent answered without a video_id: {answer}")
    return answer


def _error_text(raw: bytes) -> str:
    try:
        error = json.loads(raw)["error"]
        return f"{error.get('code')}: {error.get('message')}"
    except (ValueError, KeyError, TypeError):
        return raw.decode("utf-8", "replace")[:500]


def follow_status(db: Any, video_id: str, timeout: float) -> dict[str, Any]:
    """Print a line each time status or block count changes; return the document once terminal."""
    changes: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_change(snapshots: list[Any], _changes: Any, _read_time: Any) -> None:
        for snapshot in snapshots:
            if snapshot.exists:
                changes.put(snapshot.to_dict() or {})

    started, last_shown = time.monotonic(), None
    watch = db.collection(STATUS_COLLECTION).document(video_id).on_snapshot(on_change)
    try:
        while True:
            remaining = timeout - (time.monotonic() - started)
            try:
                doc = changes.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise DemoTimeout(f"timed out after {timeout:g} s waiting for {video_id}") from None
            # Agents also write leases and timestamps: show only what a person follows.
            shown = (doc.get("status"), doc.get("completed_blocks"), doc.get("total_blocks"))
            if shown != last_shown:
                print(progress_line(doc, time.monotonic() - started), flush=True)
                last_shown = shown
            if doc.get("status") in TERMINAL_STATUSES:
                return doc
    finally:
        watch.unsubscribe()


def progress_line(doc: Mapping[str, Any], elapsed: float) -> str:
    """`[  12.3 s] video_generating     blocks 3/9`."""
    blocks = f"blocks {doc.get('completed_blocks', 0) or 0}/{doc.get('total_blocks', '?') or '?'}"
    return f"[{elapsed:7.1f} s] {doc.get('status', '?')!s:<20} {blocks}"


def download_results(storage_client: Any, doc: Mapping[str, Any], folder: Path) -> list[Path]:
    """Download every result the document points to into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for field, filename in DOWNLOADS.items():
        uri = doc.get(field)
        if not uri:
            if field not in OPTIONAL_DOWNLOADS:
                raise DemoError(f"completed document has no {field}")
            continue
        bucket, path = split_uri(uri)
        target = folder / filename
        storage_client.bucket(bucket).blob(path).download_to_filename(str(target))
        saved.append(target)
    return saved


def as_epoch(value: Any) -> float | None:
    """A history timestamp (Firestore datetime, ISO string or epoch number) in seconds."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return as_epoch(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def step_durations(history: list[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """(status, seconds since the previous status) for each history entry after the first."""
    points = [(str(h.get("status")), as_epoch(h.get("at"))) for h in history]
    timed = [(status, at) for status, at in points if at is not None]
    return [(status, at - prev_at) for (_, prev_at), (status, at) in itertools.pairwise(timed)]


def print_summary(doc: Mapping[str, Any], folder: Path, files: list[Path]) -> None:
    """The result folder, its files and how long each step took."""
    print(f"\nvideo {doc.get('video_id')} completed: {folder.resolve()}")
    for path in files:
        print(f"  {path.name:<16} {path.stat().st_size:>10} bytes")
    if doc.get("duration"):
        print(f"  duration {float(doc['duration']):.1f} s")
    durations = step_durations(list(doc.get("history") or []))
    if durations:
        print("steps (time to reach each status):")
        for status, seconds in durations:
            print(f"  {status:<20} {seconds:8.1f} s")
        print(f"  {'total':<20} {sum(s for _, s in durations):8.1f} s")


def run(args: argparse.Namespace, cloud: LocalCloud | None = None) -> int:
    """Order, follow, download; the process exit status."""
    cloud = cloud or LocalCloud.recorded(Path.cwd())
    os.environ.update(cloud.env())
    db = firestore.Client(project=cloud.project)
    api_key = demo_api_key(db, cloud.state_dir)
    answer = order_video(cloud.url_of("agent-script") + "/", request_body(args), api_key)
    video_id = answer["video_id"]
    print(f"video {video_id} accepted (status: {answer.get('status_url', '-')})", flush=True)
    doc = follow_status(db, video_id, args.timeout)
    if doc.get("status") != "completed":
        error = doc.get("error") or {}
        print(f"video {video_id} {doc.get('status')}: [{error.get('step', '?')}] "
              f"{error.get('code', '?')}: {error.get('message', 'no message')}", file=sys.stderr)
        return EXIT_FAILED
    folder = args.out / video_id
    files = download_results(storage.Client(project=cloud.project), doc, folder)
    print_summary(doc, folder, files)
    return 0


def estimate_lines(body: Mapping[str, str]) -> list[str]:
    """The job's estimate on the Gemini API (every preset, the chosen one marked): what POST /estimate answers."""
    try:
        request = parse_request(dict(body))
    except InvalidInputError as exc:
        raise DemoError(f"invalid request: {exc.message}") from exc
    found = estimates.estimates_for(request, GEMINI_API)
    chosen = found[request.preset]
    cost = chosen["cost_usd"]
    lines = [f"estimate: ${cost['total']:.2f} for a {chosen['video_seconds']} s {request.preset} video on the real "
             f"Gemini API ({chosen['veo_model']}, {chosen['blocks']} blocks; veo ${cost['veo']:.2f}, gemini "
             f"${cost['gemini']:.4f}, images ${cost['images']:.2f}, Cloud Run compute ${cost['compute']:.4f}, "
             "none locally), "
             f"about {round(chosen['delivery_seconds'] / 60)} min; prices as of {PRICES_AS_OF}"]
    for name, other in found.items():
        mark = "  <- this job" if name == request.preset else ""
        lines.append(f"  {name:<15} {other['veo_model']:<32} {other['video_seconds']:>3} s  "
                     f"${other['cost_usd']['total']:>7.2f}{mark}")
    return lines


def run_real(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """REAL mode: the key or a one-line refusal, the estimate, CONFIRM=1, then the local cloud on the real API."""
    environ = os.environ if environ is None else environ
    key = environ.get("GEMINI_API_KEY", "").strip()
    if not key:
        print(f"demo: REAL=1 needs GEMINI_API_KEY (create one at {API_KEY_PAGE}); nothing was started",
              file=sys.stderr)
        return EXIT_FAILED
    body = request_body(args)
    for line in estimate_lines(body):
        print(line, flush=True)
    if environ.get("CONFIRM") != "1":
        print("not started: run `make demo REAL=1 CONFIRM=1` to spend it (PRESET=<name> for another preset); "
              "Google bills the key's project for every delivered second", flush=True)
        return 0
    cloud = LocalCloud.recorded(Path.cwd(), real_gemini_api_key=key)
    print("starting the local cloud with the real Gemini API (agents restart if they ran for the simulator)",
          flush=True)
    try:
        cloud.start()
    except RuntimeError as exc:
        raise DemoError(f"local cloud failed: {exc}") from exc
    print("the agents keep the real key until `make down` (or a plain `make demo`, which switches them back to "
          "the simulator)", flush=True)
    return run(args, cloud)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    args = parse_args(argv)
    try:
        if args.real:
            return run_real(args)
        return run(args)
    except DemoTimeout as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
