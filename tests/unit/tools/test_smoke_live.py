"""The live smoke kit without a network: its plan and cost, its consent gate, its secret scrubbing.

What would fail: a kit that prints anything before the cost line, prices video off the shared table, would run
without the mode's credentials or without CONFIRM=1, lets Lite extend on the Gemini API, points a "live" run at
a simulator without saying so, or records an API key, a token, a URL signature or a whole base64 payload.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.core.config import settings_from_env
from shared.pricing.costs import gemini_usd, veo_usd
from shared.pricing.prices import IMAGE_PRICE_PER_IMAGE
from tools.smoke_live import cli
from tools.smoke_live import plan as planning
from tools.smoke_live.recorder import Recorder
from tools.smoke_live.redact import KEEP_MEDIA_CHARS, REDACTED, find_secrets, scrub, scrub_url
from tools.smoke_live.runner import SmokeRun, is_google, record_dir_name

KEY = "AIzaSyFAKE0123456789abcdefghijklmnopqrs"


@pytest.fixture
def never_runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fails the test if the kit starts a run; records the runs it would start when allowed."""
    started: list[Any] = []

    def run(self: SmokeRun, expected: planning.Cost) -> int:
        started.append(self)
        return 0

    monkeypatch.setattr(SmokeRun, "run", run)
    return started


def kit(argv: list[str], environ: dict[str, str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    return cli.main(argv, environ, lines.append), lines


# ---- plan, cost, consent -------------------------------------------------------------------------------------
def test_without_a_key_it_prints_the_cost_first_then_the_plan_and_what_is_missing(never_runs: list[Any]) -> None:
    code, lines = kit(["--mode", "gemini_api"], {})
    assert code == 0 and not never_runs
    assert lines[0].startswith("expected cost: $") and "8 + 7 + 8 = 23 s" in lines[0]
    model = "veo-3.1-fast-generate-preview"
    assert f"({model})" in lines[0] and "https://generativelanguage.googleapis.com/" in lines[1]
    assert [line.split()[1] for line in lines[2:7]] == list(planning.STEP_NAMES)
    text = "\n".join(lines)
    assert "GEMINI_API_KEY" in text and "CONFIRM=1" in text and "nothing was called" in text


def test_the_expected_cost_is_seconds_times_the_tables_price_plus_tokens_plus_one_image() -> None:
    settings = settings_from_env(cli.smoke_environment("gemini_api", {}, None))
    plan = planning.build_plan(settings, "fast", "https://generativelanguage.googleapis.com/")
    cost = planning.expected_cost(plan)
    tokens = cost.prompt_tokens, cost.output_tokens
    assert cost.video_parts == (8, 7, 8)
    assert cost.output_tokens >= planning.THINKING_ALLOWANCE_TOKENS  # thinking is billed as output (B9)
    assert cost.total_usd == pytest.approx(veo_usd(plan.veo_model, 23) + gemini_usd(*tokens) + IMAGE_PRICE_PER_IMAGE,
                                           abs=1e-4)
    assert f"${cost.total_usd:.2f}" in planning.cost_line(cost)
    only_script = planning.expected_cost(planning.build_plan(settings, "fast", "x", ("script", "extension")))
    assert only_script.video_parts == () and only_script.images == 0  # the extension would be skipped: free


def test_a_key_without_confirm_runs_nothing_and_confirm_without_a_key_neither(never_runs: list[Any]) -> None:
    code, lines = kit([], {"GEMINI_API_KEY": KEY})
    assert code == 0 and not never_runs and "CONFIRM=1" in "\n".join(lines)
    code, lines = kit([], {"CONFIRM": "1"})
    assert code == 0 and not never_runs and "GEMINI_API_KEY" in "\n".join(lines)
    code, lines = kit(["--confirm"], {"GEMINI_API_KEY": KEY})
    assert code == 0 and len(never_runs) == 1
    assert KEY not in "\n".join(lines)


def test_vertex_needs_adc_project_location_and_an_output_prefix(never_runs: list[Any], tmp_path: Path) -> None:
    code, lines = kit(["--mode", "vertex"], {"CONFIRM": "1", "HOME": str(tmp_path)})
    text = "\n".join(lines)
    assert code == 0 and not never_runs
    for needed in ("GOOGLE_CLOUD_PROJECT", "VERTEX_LOCATION", "VERTEX_OUTPUT_PREFIX", "Application Default"):
        assert needed in text
    adc = tmp_path / "adc.json"
    adc.write_text("{}")
    environ = {"CONFIRM": "1", "GOOGLE_APPLICATION_CREDENTIALS": str(adc), "GOOGLE_CLOUD_PROJECT": "p",
               "GOOGLE_CLOUD_LOCATION": "europe-west4", "VERTEX_OUTPUT_PREFIX": "gs://b/smoke"}
    code, lines = kit(["--mode", "vertex"], environ)
    assert code == 0 and len(never_runs) == 1
    assert "veo-3.1-fast-generate-001" in lines[0] and "https://europe-west4-aiplatform.googleapis.com/" in lines[1]
    assert never_runs[0].settings.vertex_location == "europe-west4"
    assert never_runs[0].output_prefix("extension").startswith("gs://b/smoke/smoke-live/")


def test_lite_cannot_be_the_extending_model_on_the_gemini_api_but_can_on_vertex() -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["--mode", "gemini_api", "--tier", "lite"])
    assert cli.parse_args(["--mode", "vertex", "--tier", "lite"]).tier == "lite"
    assert planning.EXTENDING_TIERS["gemini_api"] == ("standard", "fast")


def test_a_base_url_from_the_environment_is_shown_and_never_taken_for_google(never_runs: list[Any]) -> None:
    environ = {"GENAI_BASE_URL": "http://127.0.0.1:8090", "PIPELINE_ENV": "local", "GEMINI_API_KEY": KEY}
    code, lines = kit([], environ)
    assert code == 0 and "endpoint http://127.0.0.1:8090" in lines[1] and "not Google" in "\n".join(lines)
    assert not is_google("http://127.0.0.1:8090") and is_google("https://us-central1-aiplatform.googleapis.com/")
    assert not is_google("https://googleapis.com.evil.example/")
    assert record_dir_name("gemini_api", "https://generativelanguage.googleapis.com/", "2026-12-01") == \
        "2026-12-01-gemini_api"
    assert record_dir_name("gemini_api", "http://127.0.0.1:8090", "2026-12-01") == \
        "2026-12-01-gemini_api-via-127.0.0.1_8090"


def test_against_google_the_settings_are_productions_whatever_the_shell_holds() -> None:
    environ = {"PIPELINE_ENV": "local", "AUTH_CERTS_URL": "http://127.0.0.1:1/certs", "GEMINI_API_KEY": KEY}
    settings = settings_from_env(cli.smoke_environment("gemini_api", environ, None, 30))
    assert settings.environment == "production" and settings.genai_base_url is None
    assert settings.gemini_api_key == KEY and settings.genai_timeout_seconds == 30
    local = settings_from_env(cli.smoke_environment("vertex", {}, "http://127.0.0.1:9"))
    assert local.is_local and local.genai_base_url == "http://127.0.0.1:9"  # fake bearer for the simulator


# ---- secrets out of recordings ----------------------------------------------------------------------------
def test_scrub_removes_keys_tokens_and_signatures_and_cuts_media_to_a_valid_prefix() -> None:
    media = "iVBORw0KGgo" * 400
    body = {"key": KEY, "note": f"bad key {KEY} and Bearer ya29.a0AfH6SMBx-token",
            "signed": "https://storage.googleapis.com/b/o.mp4?X-Goog-Signature=abc123&X-Goog-Credential=sa%40p",
            "instances": [{"image": {"bytesBase64Encoded": media, "mimeType": "image/png"}}],
            "usageMetadata": {"promptTokenCount": 3}}
    clean, cut = scrub(body, [KEY])
    text = json.dumps(clean)
    assert KEY not in text and "ya29." not in text and "abc123" not in text and "sa%40p" not in text
    assert clean["key"] == REDACTED and clean["usageMetadata"] == {"promptTokenCount": 3}
    kept = clean["instances"][0]["image"]["bytesBase64Encoded"]
    assert kept == media[:KEEP_MEDIA_CHARS] and len(kept) % 4 == 0
    assert cut == [{"path": "instances.0.image.bytesBase64Encoded", "original_chars": len(media),
                    "kept_chars": KEEP_MEDIA_CHARS}]
    assert find_secrets(text, [KEY]) == []
    assert find_secrets(f'{{"x": "{KEY}"}}', [KEY])


def test_scrub_url_drops_query_credentials_and_user_info() -> None:
    url = f"https://user:pw@generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media&key={KEY}"
    clean = scrub_url(url, [KEY])
    assert KEY not in clean and "pw" not in clean and "alt=media" in clean and "key=<redacted>" in clean


def test_the_recorder_keeps_the_exchange_without_the_key_header_or_the_payload() -> None:
    recorder = Recorder([KEY], step="image")
    request = httpx.Request("POST", "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent",
                            headers={"x-goog-api-key": KEY, "X-Server-Timeout": "120"},
                            json={"contents": [{"parts": [{"text": "a boat"}]}]})
    answer = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png",
                                                                   "data": "QUJD" * 1000}}]}}]}
    recorder.on_response(httpx.Response(200, json=answer, request=request))
    exchange = recorder.of_step("image")[0]
    assert KEY not in json.dumps(exchange)
    assert exchange["request_headers"] == {"x-server-timeout": "120", "content-type": "application/json"}
    assert exchange["response_body"]["candidates"][0]["content"]["parts"][0]["inlineData"]["data"] == "QUJD" * 16
    assert exchange["truncated"]["response"][0]["original_chars"] == 4000
    media = httpx.Response(200, headers={"content-type": "video/mp4"}, content=b"\0" * 10, request=request)
    recorder.on_response(media)
    assert recorder.exchanges[-1]["response_body"] is None  # media bytes never go into a fixture


def test_prose_is_not_taken_for_a_credential() -> None:
    clean, _ = scrub({"dialogue": "The bearer of good news has a key to the city."}, [KEY])
    assert clean == {"dialogue": "The bearer of good news has a key to the city."}


def test_a_run_that_cannot_build_its_client_stops_before_any_call(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    from tools.smoke_live import runner

    def no_credentials(settings: Any) -> Any:
        raise RuntimeError(f"could not find default credentials (key {KEY})")

    monkeypatch.setattr(runner, "make_genai", no_credentials)
    lines: list[str] = []
    code = cli.main(["--confirm", "--out", str(tmp_path / "fx"), "--media-dir", str(tmp_path / "media")],
                    {"GEMINI_API_KEY": KEY}, lines.append)
    assert code == 1 and "cannot start" in lines[-1] and "nothing was spent" in lines[-1]
    assert KEY not in "\n".join(lines) and not (tmp_path / "fx").exists()
