"""The chain's decisions without Firestore: what follows a result that delivered nothing (audio retry, rephrase,
deadline resubmission, failure), when a block must open a new segment instead of extending, and the plan a job
follows. `_submit_block` is replaced by a recorder: these tests check what would be submitted, not the I/O."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from types import SimpleNamespace
from typing import Any

import pytest

from shared.core import status
from shared.core.config import GEMINI_API, VERTEX, Settings
from shared.core.errors import GenerationError
from shared.video import chain, continuation
from shared.video import run as run_module
from shared.video.plan import plan_video
from shared.video.step import plan_for

AUDIO = "Veo could not generate videos because the generated audio was blocked. Support codes: 29578790"
SAFETY = "Veo could not generate videos because your current safety settings blocked the output. Support codes: 1"
LITE_G, LITE_V = "veo-3.1-lite-generate-preview", "veo-3.1-lite-generate-001"


def _run(mode: str = GEMINI_API, blocks: int = 3, model: str | None = None, **settings: Any) -> run_module.ChainRun:
    clients = SimpleNamespace(settings=dataclasses.replace(Settings(), genai_mode=mode, **settings))
    return run_module.ChainRun(clients, "v1", "owner", time.monotonic() + 60, {"blocks": []},  # type: ignore[arg-type]
                          plan_video(blocks, mode, model))


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def record(run, index, doc, **kwargs):  # type: ignore[no-untyped-def]
        calls.append({"index": index, **kwargs})
        return doc

    monkeypatch.setattr(chain, "_submit_block", record)
    return calls


def _filtered(reason: str, **fields: Any) -> dict[str, Any]:
    return {"state": "filtered", "attempt": 1, "rephrased": False, "last_filtered": [reason],
            "filtered": [reason], **fields}


def test_an_audio_block_is_resubmitted_with_the_same_prompt_not_as_the_rephrase(submitted):
    block = _filtered(AUDIO)
    chain._after_failed_result(_run(), 1, block, {})
    assert submitted == [{"index": 1, "attempt": 2, "rephrase": False, "expected": block,
                          "counters": {"audio_retries": 1}}]


def test_audio_retries_are_bounded_then_the_one_rephrase_then_failure(submitted):
    run = _run(veo_audio_retries=2)
    chain._after_failed_result(run, 1, _filtered(AUDIO, attempt=3, audio_retries=2), {})
    assert submitted[-1]["rephrase"] is True and "counters" not in submitted[-1]
    rephrased_then_audio = _filtered(AUDIO, attempt=4, audio_retries=1, rephrased=True)
    chain._after_failed_result(run, 1, rephrased_then_audio, {})
    assert submitted[-1]["rephrase"] is True and submitted[-1]["counters"] == {"audio_retries": 2}, \
        "an audio retry of the rephrased prompt keeps the rephrased prompt"
    with pytest.raises(GenerationError) as failed:
        chain._after_failed_result(run, 1, _filtered(AUDIO, attempt=5, audio_retries=2, rephrased=True), {})
    assert failed.value.code == "veo_safety_filtered"


def test_other_safety_blocks_keep_the_one_rephrase_rule(submitted):
    chain._after_failed_result(_run(), 2, _filtered(SAFETY), {})
    assert submitted == [{"index": 2, "attempt": 2, "rephrase": True, "expected": _filtered(SAFETY)}]
    with pytest.raises(GenerationError) as failed:
        chain._after_failed_result(_run(), 2, _filtered(SAFETY, rephrased=True, attempt=2), {})
    assert failed.value.code == "veo_safety_filtered" and "safety settings" in failed.value.message


def test_no_audio_retry_when_the_setting_is_zero(submitted):
    chain._after_failed_result(_run(veo_audio_retries=0), 1, _filtered(AUDIO), {})
    assert submitted[-1]["rephrase"] is True


def test_an_abandoned_operation_is_resubmitted_a_bounded_number_of_times(submitted):
    abandoned = {"state": "abandoned", "attempt": 1, "rephrased": False}
    chain._after_failed_result(_run(), 0, abandoned, {})
    assert submitted == [{"index": 0, "attempt": 2, "rephrase": False, "expected": abandoned,
                          "counters": {"deadline_resubmissions": 1}}]
    last = {**abandoned, "attempt": 3, "deadline_resubmissions": chain.MAX_DEADLINE_RESUBMISSIONS}
    with pytest.raises(GenerationError) as failed:
        chain._after_failed_result(_run(), 0, last, {})
    assert failed.value.code == "veo_operation_deadline"


def test_the_operation_deadline_counts_from_the_submission():
    run = _run(veo_operation_deadline_seconds=1800)
    now = status.utcnow()
    assert not chain._past_deadline(run, {"submitted_at": now - dt.timedelta(seconds=1799)})
    assert chain._past_deadline(run, {"submitted_at": now - dt.timedelta(seconds=1801)})


def _done(age_hours: float) -> dict[str, Any]:
    at = status.utcnow() - dt.timedelta(hours=age_hours)
    return {"state": "done", "at": at, "submitted_at": at, "video_uri": "https://sim/v1beta/files/a:download"}


def test_a_gemini_api_video_near_the_end_of_its_retention_is_not_extended():
    """Contract R1-R3: 48 h; the chain stops relying on a file one hour (the margin) before."""
    run = _run(blocks=3)
    assert continuation.usable_retention_seconds(run.clients.settings) == 47 * 3600
    assert continuation.split_reason(run, 1, {"blocks": {"0": _done(46.9)}}) is None
    assert "47.1 h old" in (continuation.split_reason(run, 1, {"blocks": {"0": _done(47.1)}}) or "")
    vertex = _run(VERTEX, blocks=3)
    assert continuation.split_reason(vertex, 1, {"blocks": {"0": _done(100)}}) is None, \
        "Vertex outputs are in our bucket"


def test_a_model_that_cannot_extend_never_gets_an_extension():
    """An old plan (or a fallback to Lite) asks for an extension the Gemini API's Lite cannot make: split there."""
    run = _run(blocks=3)  # a one-chain plan, but the job is Lite on the Gemini API
    doc = {"veo_model": LITE_G, "blocks": {"0": _done(0)}}
    assert "cannot extend" in (continuation.split_reason(run, 1, doc) or "")
    with pytest.raises(GenerationError) as refused:
        chain._models_for(run, 1, doc)
    assert refused.value.code == "veo_invalid_request"
    fallback = _run(blocks=3, veo_fallback_model=LITE_G)
    assert chain._models_for(fallback, 1, {"blocks": {}}) == ["veo-3.1-generate-preview"], \
        "a fallback that cannot extend is not offered for an extension"
    assert chain._models_for(fallback, 0, {"blocks": {}}) == ["veo-3.1-generate-preview", LITE_G]


def test_a_job_plans_for_its_own_model_and_keeps_a_stored_plan_once_started():
    clients = SimpleNamespace(settings=Settings())
    assert plan_for(clients, {"veo_model": LITE_G}, 4).sizes() == [1, 1, 1, 1]  # type: ignore[arg-type]
    assert plan_for(clients, {}, 4).sizes() == [4]  # type: ignore[arg-type]
    split = plan_video(4, GEMINI_API).split_at(2)
    started = {"plan": split.to_doc(), "blocks": {"0": _done(0)}}
    assert plan_for(clients, started, 4) == split  # type: ignore[arg-type]
    vertex = SimpleNamespace(settings=dataclasses.replace(Settings(), genai_mode=VERTEX))
    assert plan_for(vertex, {"veo_model": LITE_G}, 4).sizes() == [4]  # type: ignore[arg-type]
