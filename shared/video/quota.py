"""Project-wide Veo quota: requests per window and running operations, shared by every instance.

One Firestore document (`quotas/veo`) holds the state. It changes by compare-and-set writes (precondition:
the update time that was read; a lost race reads and decides again), not transactions: many instances
poll one hot document, and transactions on it would queue on its lock.

    window   grant times within the last `window_seconds` (at most `per_window` of them: the rate)
    slots    slot id → {until}: running operations (at most `max_concurrent`). A slot is held from
             before the submission until the operation is done or failed; a crashed holder's slot
             frees itself at `until`.
    waiters  waiter id → {rank, enqueued_at, seen_until}: the queue. Entries not refreshed expire.

Only the head waiter (lowest rank, i.e. the most expensive preset, then the first enqueued) may
take a free slot, so a burst queues in priority order instead of collecting 429s. A caller waits
in-process for a bounded time, then gets QuotaWait (transient): its step stops and tries later.
`decide` and `decide_token` are the pure rules; the functions below them apply them in Firestore.
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_random,
)

from shared.core import layout, log
from shared.core.config import Settings
from shared.core.errors import QuotaWait
from shared.core.retry import log_before_sleep
from shared.pricing.presets import BY_COST, DEFAULT_PRESET

DOCUMENT = "veo"
SLOT_SECONDS = 900.0  # longer than a Veo operation takes (1–6 min): only a crashed holder's slot expires
WAITER_SECONDS = 30.0  # a queued caller refreshes its entry well within this
POLL_SECONDS = (0.2, 2.0)  # bounds of the pause between two looks at the quota
WRITE_ATTEMPTS = 50
PRIORITY: tuple[str, ...] = tuple(reversed(BY_COST))  # premium_spot first, quick_social last

State = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """The project's Veo quota as this pipeline uses it."""

    per_window: int
    max_concurrent: int
    window_seconds: float = 60.0
    slot_seconds: float = SLOT_SECONDS
    waiter_seconds: float = WAITER_SECONDS


@dataclass(frozen=True)
class Waiter:
    """A caller queued for a slot: one attempt of one block."""

    waiter_id: str
    rank: int


@dataclass(frozen=True)
class Decision:
    """The outcome of one look at the quota: granted or not, the new state, and when to look again."""

    granted: bool
    state: State
    changed: bool
    retry_in: float = 0.0


def limits_from(settings: Settings) -> Limits:
    return Limits(settings.veo_requests_per_minute, settings.veo_max_concurrent, settings.veo_quota_window_seconds)


def rank_of(preset: str | None) -> int:
    """Queue rank of a job's preset: the most expensive preset goes first."""
    return PRIORITY.index(preset if preset in PRIORITY else DEFAULT_PRESET)


def waiter_for(video_id: str, index: int, attempt: int, preset: str | None) -> Waiter:
    return Waiter(f"{video_id}-b{index}-a{attempt}", rank_of(preset))


def _after(now: dt.datetime, seconds: float) -> dt.datetime:
    return now + dt.timedelta(seconds=seconds)


def prune(state: State, now: dt.datetime, limits: Limits) -> State:
    """The state without grants older than the window, expired slots and expired waiters."""
    start = _after(now, -limits.window_seconds)
    return {"window": sorted(t for t in state.get("window") or [] if t > start),
            "slots": {k: v for k, v in (state.get("slots") or {}).items() if v["until"] > now},
            "waiters": {k: v for k, v in (state.get("waiters") or {}).items() if v["seen_until"] > now}}


def head(waiters: dict[str, Any]) -> str | None:
    """The waiter served next: lowest rank, then first enqueued."""
    if not waiters:
        return None
    return min(waiters, key=lambda k: (waiters[k]["rank"], waiters[k]["enqueued_at"], k))


def _rate_wait(state: State, now: dt.datetime, limits: Limits) -> float:
    """Seconds until the window has room (0 when it has)."""
    if len(state["window"]) < limits.per_window:
        return 0.0
    oldest = state["window"][-limits.per_window]
    return max((oldest - now).total_seconds() + limits.window_seconds, 0.0)


def _register(state: State, waiter: Waiter, now: dt.datetime, limits: Limits) -> bool:
    """Enqueue or refresh `waiter` (keeping its place); whether the state changed."""
    entry = state["waiters"].get(waiter.waiter_id)
    if entry and entry["seen_until"] > _after(now, limits.waiter_seconds / 2):
        return False
    state["waiters"][waiter.waiter_id] = {"rank": waiter.rank, "enqueued_at": entry["enqueued_at"] if entry else now,
                                          "seen_until": _after(now, limits.waiter_seconds)}
    return True


def decide(state: State, waiter: Waiter, now: dt.datetime, limits: Limits) -> Decision:
    """Grant `waiter` a rate token and a concurrency slot if it heads the queue and both are free."""
    state = prune(state, now, limits)
    changed = _register(state, waiter, now, limits)
    rate_wait = _rate_wait(state, now, limits)
    busy = len(state["slots"]) >= limits.max_concurrent and waiter.waiter_id not in state["slots"]
    if head(state["waiters"]) != waiter.waiter_id or rate_wait > 0 or busy:
        return Decision(False, state, changed, rate_wait or POLL_SECONDS[0])
    del state["waiters"][waiter.waiter_id]
    state["slots"][waiter.waiter_id] = {"until": _after(now, limits.slot_seconds)}
    state["window"].append(now)
    return Decision(True, state, True)


def decide_token(state: State, now: dt.datetime, limits: Limits) -> Decision:
    """A rate token alone, for a retry by a caller that already holds a slot (it skips the queue)."""
    state = prune(state, now, limits)
    rate_wait = _rate_wait(state, now, limits)
    if rate_wait > 0:
        return Decision(False, state, False, rate_wait)
    state["window"].append(now)
    return Decision(True, state, True)


def quota_ref(db: firestore.Client) -> firestore.DocumentReference:
    return db.collection(layout.VEO_LIMITER).document(DOCUMENT)


class LostRace(Exception):
    """Another writer changed the quota document between our read and our write."""


def _write(db: firestore.Client, snap: firestore.DocumentSnapshot, state: State) -> None:
    """Store `state` only if the document is still as read; LostRace when another writer came first."""
    try:
        if snap.exists:
            snap.reference.update(state, option=db.write_option(last_update_time=snap.update_time))
        else:
            snap.reference.create(state)
    except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.Aborted) as exc:
        raise LostRace(str(exc)) from exc


def _too_contended(state: RetryCallState) -> Decision:
    log.warning("veo quota: too many concurrent writers; looking again later", attempts=state.attempt_number)
    return Decision(False, {}, False, POLL_SECONDS[0])


def _write_retrying() -> Retrying:
    """Compare-and-set: a lost race reads and decides again, WRITE_ATTEMPTS times at most, after 0–20 ms."""
    return Retrying(retry=retry_if_exception_type(LostRace), stop=stop_after_attempt(WRITE_ATTEMPTS),
                    wait=wait_random(0, 0.02), retry_error_callback=_too_contended,
                    before_sleep=log_before_sleep("veo quota: lost a write race; deciding again", level="debug"))


def _apply(db: firestore.Client, rule: Callable[[State, dt.datetime], Decision]) -> Decision:
    """Read the quota, apply `rule`, and write the result if it changed (re-deciding after a lost race)."""
    def read_decide_write() -> Decision:
        snap = quota_ref(db).get()
        decision = rule(snap.to_dict() or {}, dt.datetime.now(dt.UTC))
        if decision.changed:
            _write(db, snap, decision.state)
        return decision

    decision: Decision = _write_retrying()(read_decide_write)
    return decision


def _wait_retrying(max_wait: float, what: str) -> Retrying:
    """Look again until granted: after the decision's retry_in, kept within POLL_SECONDS and the time left
    (±20 % jitter); QuotaWait once `max_wait` seconds have passed."""
    def pause(state: RetryCallState) -> float:
        decision: Decision = state.outcome.result() if state.outcome else Decision(False, {}, False)
        left = max_wait - (state.seconds_since_start or 0.0)
        return min(max(decision.retry_in, POLL_SECONDS[0]), POLL_SECONDS[1], left) * random.uniform(0.8, 1.2)

    def give_up(state: RetryCallState) -> None:
        raise QuotaWait(f"no Veo {what} free within {max_wait:.0f} s")

    return Retrying(retry=retry_if_result(lambda decision: not decision.granted), stop=stop_after_delay(max_wait),
                    wait=pause, retry_error_callback=give_up)


def _wait(db: firestore.Client, rule: Callable[[State, dt.datetime], Decision], max_wait: float, what: str) -> None:
    _wait_retrying(max_wait, what)(_apply, db, rule)


def acquire(db: firestore.Client, waiter: Waiter, limits: Limits, max_wait: float) -> str:
    """Queue until `waiter` gets a rate token and a concurrency slot; the slot's id. QuotaWait after max_wait."""
    _wait(db, lambda state, now: decide(state, waiter, now, limits), max_wait, "slot")
    log.info("veo quota slot taken", slot=waiter.waiter_id, rank=waiter.rank)
    return waiter.waiter_id


def take_token(db: firestore.Client, limits: Limits, max_wait: float) -> None:
    """One more request in the rate window (a retry or fallback of a submission holding a slot)."""
    _wait(db, lambda state, now: decide_token(state, now, limits), max_wait, "request token")


def release(db: firestore.Client, slot: str | None) -> None:
    """Give a concurrency slot back (its operation finished, or was never accepted)."""
    if not slot:
        return

    def drop(state: State, now: dt.datetime) -> Decision:
        slots = dict(state.get("slots") or {})
        found = slots.pop(slot, None) is not None
        return Decision(False, {**state, "slots": slots}, found)

    _apply(db, drop)
    log.info("veo quota slot released", slot=slot)


def usage(db: firestore.Client, limits: Limits) -> dict[str, int]:
    """Live counts: grants in the window, held slots, queued waiters."""
    snap = quota_ref(db).get()
    state = prune(snap.to_dict() or {}, dt.datetime.now(dt.UTC), limits)
    return {"window": len(state["window"]), "slots": len(state["slots"]), "waiters": len(state["waiters"])}
