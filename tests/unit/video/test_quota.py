"""The Veo quota's rules (shared.video.quota.decide / decide_token) on plain state, no Firestore."""
from __future__ import annotations

import datetime as dt

from shared.video.quota import Limits, Waiter, decide, decide_token, rank_of, waiter_for

T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
LIMITS = Limits(per_window=2, max_concurrent=2, window_seconds=60, slot_seconds=300, waiter_seconds=30)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_premium_spot_ranks_before_brand_campaign_before_quick_social() -> None:
    assert rank_of("premium_spot") < rank_of("brand_campaign") < rank_of("quick_social")
    assert rank_of(None) == rank_of("brand_campaign") == rank_of("unknown")
    assert waiter_for("vid-1", 3, 2, "quick_social") == Waiter("vid-1-b3-a2", rank_of("quick_social"))


def test_grants_until_the_rate_window_is_full_then_says_when_it_frees() -> None:
    state: dict = {}
    for n, second in enumerate((0, 1)):
        decision = decide(state, Waiter(f"w{n}", 1), at(second), Limits(2, 10))
        assert decision.granted
        state = decision.state
    refused = decide(state, Waiter("w2", 1), at(2), Limits(2, 10))
    assert not refused.granted and refused.retry_in == 58
    assert decide(refused.state, Waiter("w2", 1), at(60.5), Limits(2, 10)).granted


def test_concurrency_slots_are_held_until_released_or_expired() -> None:
    state = decide({}, Waiter("a", 1), at(0), Limits(10, 1, slot_seconds=300)).state
    refused = decide(state, Waiter("b", 1), at(1), Limits(10, 1, slot_seconds=300))
    assert not refused.granted and refused.changed  # b is now queued
    assert not decide(refused.state, Waiter("b", 1), at(299), Limits(10, 1, slot_seconds=300)).granted
    after_expiry = decide(refused.state, Waiter("b", 1), at(301), Limits(10, 1, slot_seconds=300, waiter_seconds=600))
    assert after_expiry.granted and set(after_expiry.state["slots"]) == {"b"}


def test_only_the_head_waiter_takes_a_free_slot_highest_preset_first() -> None:
    one = Limits(10, 1)
    state = decide({}, Waiter("running", 1), at(0), one).state
    for name, rank, second in (("quick-1", 2, 1), ("quick-2", 2, 2), ("premium", 0, 3)):
        refused = decide(state, Waiter(name, rank), at(second), one)
        assert not refused.granted
        state = refused.state
    state["slots"] = {}  # the running operation finished
    assert not decide(state, Waiter("quick-2", 2), at(4), one).granted
    assert not decide(state, Waiter("quick-1", 2), at(4), one).granted
    granted = decide(state, Waiter("premium", 0), at(4), one)
    assert granted.granted and "premium" not in granted.state["waiters"]
    granted.state["slots"] = {}
    assert not decide(granted.state, Waiter("quick-2", 2), at(5), one).granted  # FIFO among equals
    assert decide(granted.state, Waiter("quick-1", 2), at(5), one).granted


def test_a_waiter_that_stops_refreshing_loses_its_place() -> None:
    state = decide({"slots": {"x": {"until": at(100)}, "y": {"until": at(100)}}}, Waiter("gone", 0), at(0),
                   LIMITS).state
    state = decide(state, Waiter("alive", 2), at(20), LIMITS).state
    state["slots"] = {}
    assert not decide(state, Waiter("alive", 2), at(25), LIMITS).granted  # "gone" still heads the queue
    assert decide(state, Waiter("alive", 2), at(31), LIMITS).granted


def test_refreshing_keeps_the_enqueue_time_and_writes_only_when_needed() -> None:
    busy = {"slots": {"x": {"until": at(100)}, "y": {"until": at(100)}}}
    first = decide(busy, Waiter("w", 1), at(0), LIMITS)
    again = decide(first.state, Waiter("w", 1), at(5), LIMITS)
    assert not again.changed
    later = decide(first.state, Waiter("w", 1), at(20), LIMITS)
    assert later.changed and later.state["waiters"]["w"]["enqueued_at"] == at(0)


def test_a_holder_asking_again_reuses_its_own_slot() -> None:
    state = decide({}, Waiter("a", 1), at(0), Limits(10, 1)).state
    again = decide(state, Waiter("a", 1), at(1), Limits(10, 1))
    assert again.granted and len(again.state["slots"]) == 1


def test_retry_tokens_skip_the_queue_but_not_the_rate() -> None:
    state = decide({}, Waiter("a", 1), at(0), LIMITS).state
    state = decide(state, Waiter("queued", 0), at(0.5), Limits(2, 1)).state
    token = decide_token(state, at(1), LIMITS)
    assert token.granted and len(token.state["window"]) == 2
    assert not decide_token(token.state, at(2), LIMITS).granted
