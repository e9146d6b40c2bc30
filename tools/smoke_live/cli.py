"""Command line of the live smoke kit (`make smoke-live MODE=gemini_api|vertex [CONFIRM=1]`)."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from shared.core.config import GEMINI_API, Settings, settings_from_env
from shared.core.errors import ConfigError
from tools.smoke_live import plan as planning
from tools.smoke_live.runner import Options, SmokeRun, endpoint_of, is_google, record_dir_name

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "live"
MEDIA = ROOT / "out" / "smoke-live"
# Placeholders for what PIPELINE_ENV=production requires but a smoke run does not use (no job is created); the
# key's placeholder only lets the plan be printed: without the real key nothing runs (plan.missing_requirements).
_PRODUCTION_PLACEHOLDERS = {"STATUS_BASE_URL": "http://smoke-live.invalid", "GEMINI_API_KEY": "not-set"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke_live", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=planning.MODES, default=GEMINI_API)
    parser.add_argument("--tier", choices=planning.TIERS, default=planning.DEFAULT_TIER,
                        help="Veo 3.1 model tier; it must be able to extend (Lite cannot on the Gemini API)")
    parser.add_argument("--base-url", default=None,
                        help="send every call here instead of Google (the simulator); default: env GENAI_BASE_URL")
    parser.add_argument("--confirm", action="store_true", help="same as CONFIRM=1")
    parser.add_argument("--only", default=",".join(planning.STEP_NAMES),
                        help=f"comma-separated subset of {','.join(planning.STEP_NAMES)} (default: all)")
    parser.add_argument("--out", type=Path, default=FIXTURES, help="where the <date>-<mode>/ recordings go")
    parser.add_argument("--media-dir", type=Path, default=MEDIA, help="where the videos and the image go")
    parser.add_argument("--poll-seconds", type=float, default=10.0)
    parser.add_argument("--max-wait", type=float, default=600.0, help="seconds one video may take to render")
    parser.add_argument("--http-timeout", type=float, default=None,
                        help="seconds per HTTP request (sets GENAI_TIMEOUT_SECONDS; default: the configured one)")
    args = parser.parse_args(argv)
    args.only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = [name for name in args.only if name not in planning.STEP_NAMES]
    if unknown or not args.only:
        parser.error(f"--only: unknown step(s) {', '.join(unknown) or '(none given)'}")
    if args.tier not in planning.EXTENDING_TIERS[args.mode]:
        parser.error(f"--tier {args.tier} cannot extend a video in mode {args.mode} (contract V3)")
    return args


def smoke_environment(mode: str, environ: Mapping[str, str], base_url: str | None,
                      http_timeout: float | None = None) -> dict[str, str]:
    """The variables the settings are read from: the caller's, in `mode`, against `base_url` or Google.

    Against Google the settings are production's (no simulator default, ADC on Vertex AI); against a base URL
    they are local ones (the simulator takes any bearer token: shared.core.clients.make_genai).
    """
    env = dict(environ)
    env["GENAI_MODE"] = mode
    if http_timeout:
        env["GENAI_TIMEOUT_SECONDS"] = f"{http_timeout:g}"
    if not env.get("VERTEX_LOCATION") and env.get("GOOGLE_CLOUD_LOCATION"):
        env["VERTEX_LOCATION"] = env["GOOGLE_CLOUD_LOCATION"]
    if base_url:
        env.update(GENAI_BASE_URL=base_url, PIPELINE_ENV="local")
        return env
    env.pop("GENAI_BASE_URL", None)
    env.pop("AUTH_CERTS_URL", None)  # a local-cloud setting that production refuses
    env["PIPELINE_ENV"] = "production"
    project = env.setdefault("GOOGLE_CLOUD_PROJECT", "smoke-live-without-project")
    env.setdefault("PIPELINE_BUCKET", f"{project}-media")
    for name, value in _PRODUCTION_PLACEHOLDERS.items():
        env[name] = env.get(name) or value
    return env


def _record_dir(out: Path, mode: str, endpoint: str) -> Path:
    now = datetime.now(UTC)
    folder = out / record_dir_name(mode, endpoint, now.strftime("%Y-%m-%d"))
    return folder if not folder.exists() else folder.with_name(f"{folder.name}-{now.strftime('%H%M%S')}")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None,
         say: Callable[[str], None] = print) -> int:
    """Print the cost and the plan; run it only with credentials and CONFIRM=1. 0: planned or all steps ok."""
    args = parse_args(argv)
    environ = os.environ if environ is None else environ
    base_url = args.base_url or environ.get("GENAI_BASE_URL") or None
    try:
        settings: Settings = settings_from_env(smoke_environment(args.mode, environ, base_url, args.http_timeout))
    except ConfigError as exc:
        say(f"smoke-live: configuration error: {exc}")
        return 2
    endpoint = endpoint_of(settings, environ)
    plan = planning.build_plan(settings, args.tier, endpoint, args.only)
    expected = planning.expected_cost(plan)
    say(planning.cost_line(expected))
    for line in planning.plan_lines(plan):
        say(line)
    if not is_google(endpoint):
        say("  (not Google's endpoint: the recordings' folder names it; Google bills nothing)")
    confirmed = args.confirm or environ.get("CONFIRM") == "1"
    missing = planning.missing_requirements(args.mode, environ, confirmed=confirmed,
                                            local_endpoint=not is_google(endpoint))
    if missing:
        say("not run; missing:")
        for item in missing:
            say(f"  - {item}")
        say("nothing was called and nothing was spent")
        return 0
    secrets = [environ.get("GEMINI_API_KEY", ""), settings.gemini_api_key]
    media = args.media_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{args.mode}"
    run = SmokeRun(settings, plan, Options(args.poll_seconds, args.max_wait, args.http_timeout or 120.0),
                   _record_dir(args.out, args.mode, endpoint), media, secrets, say)
    return run.run(expected)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
