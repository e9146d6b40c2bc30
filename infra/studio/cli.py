"""studio: make and manage videos from a terminal, through the product API (shared/api/openapi.yaml).

    studio create --theme "A robot gardener on Mars" --preset quick_social
    studio list --favourites          studio show VIDEO_ID          studio download VIDEO_ID
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from infra.studio.api import EXIT_JOB_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_SERVER, Client, StudioError
from infra.studio.progress import ProgressPrinter, format_elapsed
from shared.core.vocabulary import LANGUAGES, STYLES, VOICES
from shared.pricing.presets import PRESETS

EXIT_CODES_HELP = """exit codes:
  0  ok
  2  usage error (bad or missing arguments)
  3  the API refused the request (4xx: invalid input, bad token, quota, conflict)
  4  not found (no such video or character, or not yours)
  5  server or network error (5xx, API unreachable, no local cloud running)
  6  the video job failed (or was cancelled), or its storyboard could not be made

target: the local cloud (`make up`) with the local user's key, unless --url/--token
(or STUDIO_URL/STUDIO_TOKEN) name a deployed API and an API key or ID token."""
FILES = {"video": [("final_video", "final.mp4")], "thumbnail": [("thumbnail", "thumbnail.jpg")],
         "subtitles": [("subtitles_srt", "subtitles.srt"), ("subtitles_vtt", "subtitles.vtt")],
         "qa": [("qa_report", "qa_report.json"), ("qa_report_md", "qa_report.md")]}
MAX_STREAM_RECONNECTS = 5  # broken connections in a row; a stream the server ends at its time limit is resumed
RECONNECT_SECONDS = 1.0  # the server's `retry:` hint
CREATE_ATTEMPTS = 3  # a create that met a network or 5xx error is retried with the same Idempotency-Key
STORYBOARD_WAIT_SECONDS = 600.0  # the storyboard step renders a preview in well under a minute


class Studio:
    """The commands, against one API client, writing to `out`."""

    def __init__(self, client: Client, out: TextIO, as_json: bool) -> None:
        self.client, self.out, self.as_json = client, out, as_json

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A progress remark: on stdout, or on stderr when stdout carries --json."""
        print(text, file=self.progress_out, flush=True)

    @property
    def progress_out(self) -> TextIO:
        return sys.stderr if self.as_json else self.out

    def dump(self, data: Any) -> None:
        self.say(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def emit(self, data: Any, human: Callable[[Any], None]) -> None:
        """JSON with --json, else the human rendering."""
        if self.as_json:
            self.dump(data)
        else:
            human(data)

    # --- videos ------------------------------------------------------------------------------
    def create(self, args: argparse.Namespace) -> int:
        # One key per command: a retry after a lost answer is the same video, never a second one.
        headers = {"Idempotency-Key": args.idempotency_key or f"studio-{uuid.uuid4()}"}
        answer = self._create_with_retries(request_body(args), headers)
        accepted = (f"video {answer['video_id']} accepted ({answer.get('preset')}, "
                    f"est. ${answer.get('estimated_cost_usd', 0):.2f})")
        if args.no_wait or answer.get("status") == "awaiting_approval":
            review = (f"\nreview it: studio storyboard {answer['video_id']}, then studio approve "
                      f"{answer['video_id']} (or studio cancel)") if answer.get("status") == "awaiting_approval" else ""
            self.emit(answer, lambda _: self.say(accepted + review))
            return EXIT_OK
        self.note(accepted)
        return self.watch_video(answer["video_id"])

    def _create_with_retries(self, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                answer: dict[str, Any] = self.client.call("POST", "/videos", json=body, headers=headers)
                return answer
            except StudioError as exc:
                if exc.exit_code != EXIT_SERVER or attempt == CREATE_ATTEMPTS:
                    raise
                self.note(f"create failed ({exc.message}); retrying with the same Idempotency-Key")
                time.sleep(attempt)
        raise AssertionError("unreachable")

    def estimate(self, args: argparse.Namespace) -> int:
        self.emit(self.client.call("POST", "/estimate", json=request_body(args)), self._print_estimate)
        return EXIT_OK

    def _print_estimate(self, answer: dict[str, Any]) -> None:
        for name, found in answer["presets"].items():
            mark = "*" if name == answer.get("would_run") else " "
            self.say(f"{mark} {name:<15} ${found['cost_usd']['total']:>7.2f}  {found['video_seconds']:>3} s video  "
                     f"ready in ~{format_elapsed(found['delivery_seconds'])}"
                     + ("" if found.get("fits_budget", True) else "  (over budget)"))
        if answer.get("note"):
            self.say(f"note: {answer['note']}")

    def watch(self, args: argparse.Namespace) -> int:
        return self.watch_video(args.video_id)

    def watch_video(self, video_id: str) -> int:
        """Follow the progress stream to the end; the exit code of the job's outcome."""
        doc = self.client.call("GET", f"/videos/{video_id}")
        cost = ((doc.get("estimate") or {}).get("cost_usd") or {}).get("total")
        out = self.progress_out
        printer = ProgressPrinter(out, doc.get("created_at"), cost, tty=out.isatty())
        try:
            final = self._follow(video_id, printer)
        finally:
            printer.close()
        if final.get("status") == "completed":
            self.note(f"video {video_id} completed: studio show {video_id} / studio download {video_id}")
            if self.as_json:
                self.dump(self.client.call("GET", f"/videos/{video_id}"))
            return EXIT_OK
        error = final.get("error") or {}
        quoted = f" (error id {error['error_id']})" if error.get("error_id") else ""
        raise StudioError(f"video {video_id} {final.get('status')}: {error.get('code', '?')}: "
                          f"{error.get('message', 'no message')}{quoted}", EXIT_JOB_FAILED)

    def _follow(self, video_id: str, printer: ProgressPrinter) -> dict[str, Any]:
        """Follow the stream to its `end`, resuming with Last-Event-ID each time the server closes it (every
        SSE_MAX_SECONDS) for as long as the job runs; MAX_STREAM_RECONNECTS broken connections in a row fail."""
        last_id, broken = None, 0
        while broken < MAX_STREAM_RECONNECTS:
            try:
                for event, data, event_id in self.client.events(video_id, last_id):
                    last_id = event_id or last_id
                    printer.show(data)
                    if event == "end":
                        return data
                broken = 0
            except StudioError as exc:
                if exc.exit_code != EXIT_SERVER:
                    raise
                broken += 1
            time.sleep(RECONNECT_SECONDS)
        raise StudioError(f"the progress stream of {video_id} kept breaking before the end")

    def list(self, args: argparse.Namespace) -> int:
        params = {"favourite": "true" if args.favourites else None, "style": args.style, "language": args.language,
                  "character_id": args.character, "sort": args.sort, "order": args.order, "limit": args.limit}
        answer = self.client.call("GET", "/videos", params={k: v for k, v in params.items() if v is not None})
        self.emit(answer, self._print_list)
        return EXIT_OK

    def _print_list(self, answer: dict[str, Any]) -> None:
        if not answer["videos"]:
            self.say("no videos")
        for video in answer["videos"]:
            star = "*" if video.get("favourite") else " "
            length = format_duration(video["duration"]) if video.get("duration") else "-"
            self.say(f"{star} {video['video_id']}  {video['status']:<16} {video.get('style', ''):<10} "
                     f"{video.get('language', ''):<3} {length:>10}  {video.get('views', 0):>4} views  "
                     f"{video.get('title', '')}")
        if answer.get("next_page_token"):
            self.say(f"more: next page after {answer['next_page_token']}")

    def show(self, args: argparse.Namespace) -> int:
        self.emit(self.client.call("GET", f"/videos/{args.video_id}"), self._print_video)
        return EXIT_OK

    def _print_video(self, doc: dict[str, Any]) -> None:
        progress = doc.get("progress") or {}
        self.say(f"{doc['video_id']}  {doc.get('title', '')}")
        self.say(f"  status     {doc['status']} ({progress.get('stage', '')}, {progress.get('percent', 0)}%)")
        for label, key in (("theme", "theme"), ("style", "style"), ("language", "language"), ("preset", "preset"),
                           ("character", "character_id"), ("music", "music"), ("duration s", "duration")):
            if doc.get(key) not in (None, ""):
                self.say(f"  {label:<10} {doc[key]}")
        self.say(f"  favourite  {'yes' if doc.get('favourite') else 'no'}    views {doc.get('views', 0)}")
        if doc.get("qa"):
            self.say(f"  QA         {'passed' if doc['qa'].get('passed') else 'failed'}")
        if doc.get("error"):
            self.say(f"  error      {doc['error'].get('code')}: {doc['error'].get('message')}")
        for name in doc.get("files") or {}:
            self.say(f"  file       {name}")

    def storyboard(self, args: argparse.Namespace) -> int:
        board = self._storyboard_when_rendered(args.video_id, wait=not args.no_wait)
        if board["state"] == "failed":
            error = board.get("error") or {}
            raise StudioError(f"the storyboard could not be made: {error.get('code')}: {error.get('message')} "
                              f"(error id {error.get('error_id')}); edit the script or cancel", EXIT_JOB_FAILED)
        if board["state"] == "rendering":
            self.emit(board, lambda b: self.say(f"{b['video_id']}  storyboard r{b['revision']} still rendering"))
            return EXIT_OK
        self.emit(board, self._print_storyboard)
        return EXIT_OK

    def _storyboard_when_rendered(self, video_id: str, wait: bool) -> dict[str, Any]:
        """The storyboard once the storyboard step has rendered it (or could not), polling as the API asks."""
        deadline = time.monotonic() + STORYBOARD_WAIT_SECONDS
        board: dict[str, Any] = self.client.call("GET", f"/videos/{video_id}/storyboard")
        if wait and board["state"] == "rendering":
            self.note(f"rendering the storyboard of revision {board['revision']}...")
        while wait and board["state"] == "rendering" and time.monotonic() < deadline:
            time.sleep(float(board.get("retry_after_seconds") or 3))
            board = self.client.call("GET", f"/videos/{video_id}/storyboard")
        return board

    def _print_storyboard(self, board: dict[str, Any]) -> None:
        cost = ((board.get("estimate") or {}).get("cost_usd") or {}).get("total")
        self.say(f"{board['video_id']}  {board['status']}  {board.get('preset', '')}  "
                 f"est. ${cost or 0:.2f} once approved (nothing paid to Veo yet)")
        for block in board["blocks"]:
            self.say(f"  {block['index'] + 1:>2}  {block['start']:5.1f}-{block['end']:5.1f} s  {block['visual']}")
            if block.get("dialogue"):
                self.say(f"      \"{block['dialogue']}\"")
        self.say(f"preview: {board['preview']['url']}")

    def approve(self, args: argparse.Namespace) -> int:
        answer = self.client.call("POST", f"/videos/{args.video_id}/approve")
        if args.no_wait:
            self.emit(answer, lambda a: self.say(f"{a['video_id']} approved: {a['status']}"))
            return EXIT_OK
        self.note(f"{args.video_id} approved")
        return self.watch_video(args.video_id)

    def cancel(self, args: argparse.Namespace) -> int:
        answer = self.client.call("POST", f"/videos/{args.video_id}/cancel")
        self.emit(answer, lambda a: self.say(f"{a['video_id']} {a['status']}"))
        return EXIT_OK

    def favourite(self, args: argparse.Namespace) -> int:
        answer = self.client.call("DELETE" if args.remove else "PUT", f"/videos/{args.video_id}/favourite")
        self.emit(answer, lambda a: self.say(f"{a['video_id']} favourite: {'yes' if a['favourite'] else 'no'}"))
        return EXIT_OK

    def download(self, args: argparse.Namespace) -> int:
        answer = self.client.call("GET", f"/videos/{args.video_id}/files")
        files = answer.get("files") or {}
        if not files:
            raise StudioError(f"video {args.video_id} has no files yet (status {answer.get('status')})", EXIT_REFUSED)
        folder = args.out or Path(args.video_id)
        for what in args.what or list(FILES):
            for name, filename in FILES[what]:
                if name in files:
                    path = self.client.download(files[name]["url"], folder / filename)
                    self.say(f"{path}  {path.stat().st_size} bytes")
        return EXIT_OK

    def music(self, _: argparse.Namespace) -> int:
        self.emit(self.client.call("GET", "/music"), self._print_tracks)
        return EXIT_OK

    def _print_tracks(self, answer: dict[str, Any]) -> None:
        for track in answer["tracks"]:
            styles = f"  (default for {', '.join(track['default_for'])})" if track.get("default_for") else ""
            self.say(f"{track['id']:<16} {track.get('mood', track['category']):<8} {track['duration']:5.1f} s  "
                     f"{track.get('licence', ''):<8} {track['name']}{styles}")
            self.say(f"{'':<16} preview: {track['preview_url']}")
        self.say(f"{answer.get('no_music', 'none'):<16} no music at all (--music none)")

    def voices(self, _: argparse.Namespace) -> int:
        self.emit(self.client.call("GET", "/voices"), self._print_voices)
        return EXIT_OK

    def _print_voices(self, answer: dict[str, Any]) -> None:
        for voice in answer["voices"]:
            self.say(f"{voice['id']:<22} {voice['description']}")
            self.say(f"{'':<22} sample: {voice['sample_url']}")

    # --- characters --------------------------------------------------------------------------
    def characters_list(self, _: argparse.Namespace) -> int:
        self.emit(self.client.call("GET", "/characters"), self._print_characters)
        return EXIT_OK

    def _print_characters(self, answer: dict[str, Any]) -> None:
        if not answer["characters"]:
            self.say("no characters")
        for character in answer["characters"]:
            self._print_character(character)

    def _print_character(self, character: dict[str, Any]) -> None:
        self.say(f"{character['character_id']}  {character['name']:<20} {character.get('style', ''):<10} "
                 f"{character.get('description', '')}")

    def characters_create(self, args: argparse.Namespace) -> int:
        body = {"name": args.name, "description": args.description, "style": args.style}
        self.emit(self.client.call("POST", "/characters", json=body), self._print_character)
        return EXIT_OK

    def characters_show(self, args: argparse.Namespace) -> int:
        self.emit(self.client.call("GET", f"/characters/{args.character_id}"), self._print_character)
        return EXIT_OK

    def characters_delete(self, args: argparse.Namespace) -> int:
        self.client.call("DELETE", f"/characters/{args.character_id}")
        self.say(f"deleted {args.character_id}")
        return EXIT_OK


def format_duration(seconds: float) -> str:
    """64.4 → "1 min 04 s", 31 → "31 s"."""
    whole = int(round(seconds))
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST /videos (and /estimate) body of the create/estimate options that were given."""
    body = {"theme": args.theme, "style": args.style, "language": args.language, "character_id": args.character,
            "music": args.music, "voice": args.voice, "preset": args.preset, "target_seconds": args.target_seconds,
            "max_cost_usd": args.max_cost, "allow_downgrade": args.allow_downgrade or None,
            "review": getattr(args, "review", False) or None}
    return {k: v for k, v in body.items() if v is not None}


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theme", required=True, help="what the video is about (3-300 characters)")
    parser.add_argument("--style", choices=sorted(STYLES), help="visual style (default: the API's, cinematic)")
    parser.add_argument("--language", choices=sorted(LANGUAGES), help="narration and subtitles (default en)")
    parser.add_argument("--character", metavar="CHARACTER_ID", help="one of your characters (studio characters list)")
    parser.add_argument("--music", metavar="TRACK_ID",
                        help="a track of the catalogue (studio music), or none for no music (default: the style's)")
    parser.add_argument("--voice", choices=list(VOICES), help="narrator voice (studio voices plays samples)")
    parser.add_argument("--preset", choices=list(PRESETS), help="quality preset (default brand_campaign)")
    parser.add_argument("--target-seconds", type=int, help="a length inside the preset's window")
    parser.add_argument("--max-cost", type=float, metavar="USD", help="refuse a preset that costs more")
    parser.add_argument("--allow-downgrade", action="store_true", help="over budget, run a cheaper preset")


def _command(sub: Any, name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text,
                                                     epilog=EXIT_CODES_HELP,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Every command and option (each has --help)."""
    parser = argparse.ArgumentParser(prog="studio", description=__doc__, epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("STUDIO_URL"), help="API base URL (env STUDIO_URL)")
    parser.add_argument("--token", default=os.environ.get("STUDIO_TOKEN"),
                        help="API key vk_... or ID token (env STUDIO_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of text")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = _command(sub, "create", "create", "create a video and follow its progress")
    _add_request_options(create)
    create.add_argument("--no-wait", action="store_true", help="return once the video is accepted")
    create.add_argument("--review", action="store_true",
                        help="stop after the script: see `studio storyboard`, then approve (pays) or cancel")
    create.add_argument("--idempotency-key", metavar="KEY",
                        help="re-running with the same key returns the same video (default: a new key per run)")
    _add_request_options(_command(sub, "estimate", "estimate", "every preset's cost and time; creates nothing"))
    _command(sub, "watch", "watch", "follow a video's live progress to the end").add_argument("video_id")
    listing = _command(sub, "list", "list", "my videos, newest first")
    listing.add_argument("--favourites", action="store_true", help="favourites only")
    listing.add_argument("--style", choices=sorted(STYLES))
    listing.add_argument("--language", choices=sorted(LANGUAGES))
    listing.add_argument("--character", metavar="CHARACTER_ID")
    listing.add_argument("--sort", choices=["date", "views", "duration"], help="duration: the delivered length")
    listing.add_argument("--order", choices=["asc", "desc"])
    listing.add_argument("--limit", type=int, help="1-50 (default 20)")
    _command(sub, "show", "show", "a video's status, settings and files").add_argument("video_id")
    storyboard = _command(sub, "storyboard", "storyboard", "a reviewed video's storyboard and cost (waits for it)")
    storyboard.add_argument("video_id")
    storyboard.add_argument("--no-wait", action="store_true", help="say so if it is still rendering, do not wait")
    approve = _command(sub, "approve", "approve", "approve a reviewed video: Veo starts (and it is paid)")
    approve.add_argument("video_id")
    approve.add_argument("--no-wait", action="store_true", help="return once it is approved")
    _command(sub, "cancel", "cancel", "cancel a reviewed video (nothing paid to Veo)").add_argument("video_id")
    favourite = _command(sub, "favourite", "favourite", "mark a video as favourite (or --remove)")
    favourite.add_argument("video_id")
    favourite.add_argument("--remove", action="store_true", help="remove it from the favourites")
    download = _command(sub, "download", "download", "save a completed video's files")
    download.add_argument("video_id")
    download.add_argument("--out", type=Path, help="folder (default ./VIDEO_ID)")
    download.add_argument("--what", action="append", choices=list(FILES), help="only these (repeatable)")
    _command(sub, "music", "music", "the music catalogue (moods, licences, preview clips)")
    _command(sub, "voices", "voices", "the narrator voices, with a sample of each")
    _add_character_commands(sub)
    return parser


def _add_character_commands(sub: Any) -> None:
    characters = _command(sub, "characters", "", "manage characters (list, create, show, delete)")
    actions = characters.add_subparsers(dest="action", required=True, metavar="ACTION")
    _command(actions, "list", "characters_list", "my characters")
    create = _command(actions, "create", "characters_create", "create a character (draws a portrait)")
    create.add_argument("--name", required=True)
    create.add_argument("--description", required=True, help="3-400 characters")
    create.add_argument("--style", choices=sorted(STYLES), default="cinematic")
    _command(actions, "show", "characters_show", "one character").add_argument("character_id")
    _command(actions, "delete", "characters_delete", "delete a character and its portrait").add_argument("character_id")


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run one command; its exit code (documented in --help)."""
    args = build_parser().parse_args(argv)
    try:
        from infra.studio.target import resolve

        url, token = resolve(args.url, args.token)
        studio = Studio(Client(url, token), out, args.json)
        code: int = getattr(studio, args.handler)(args)  # the Studio method the subcommand names
        return code
    except StudioError as exc:
        print(f"studio: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
