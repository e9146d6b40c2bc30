"""Money limits on Veo spend: per user (day and month), per project (UTC day), and per job (max_cost_usd).

    user_spend/{user id}      {day, month, usd_day, usd_month}: the Veo spend of the user's accepted jobs.
                              `reserve` takes a job's estimated Veo cost when it is accepted (SpendLimit, nothing
                              taken, when a daily or monthly allowance would be passed); `reconcile` replaces the
                              estimate with what the job's ledger billed when it ends (once: the job records
                              `spend` {usd, day, month, reconciled}).
    project_spend/{UTC day}   {usd}: what the project's Veo submissions took today. `take_project` adds one
                              submission's price before it is sent; past PROJECT_VEO_USD_PER_DAY it raises
                              SpendHold (the job waits, it does not fail) and logs `event=project_spend_cap`,
                              which a log-based metric turns into an alert (infra/gcp/monitoring).
                              `give_back_project` returns the price of a submission that was not billed.
    guard                     before every paid call of a running job: the job's billed cost (its receipt, from
                              the ledger) plus the call's price must fit max_cost_usd, else BudgetExhausted.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from google.cloud import firestore

from shared.core import layout, log, status
from shared.core.errors import BudgetExhausted, SpendHold, SpendLimit
from shared.core.retry import contended_retrying
from shared.pricing.costs import speech_usd
from shared.pricing.receipts import build_receipt, compute_usd

PERIODS = ("day", "month")
# A remedial re-assembly's compute per second of video: assembly (1.0 s) and QA (0.35 s), as shared.api.estimates
# assumes for the first pass.
REASSEMBLY_SECONDS_PER_VIDEO_SECOND = {"agent-assembler": 1.0, "agent-qa": 0.35}
EPSILON_USD = 1e-6  # float sums of prices: a call that exactly fits the cap fits


def periods(now: dt.datetime) -> dict[str, str]:
    return {"day": f"{now:%Y-%m-%d}", "month": f"{now:%Y-%m}"}


def seconds_until_reset(period: str, now: dt.datetime) -> int:
    """Seconds until the next UTC midnight (day) or first of the month (month)."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    reset = start + dt.timedelta(days=1) if period == "day" else \
        (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return math.ceil((reset - now).total_seconds())


def spent(doc: dict[str, Any], now: dt.datetime) -> dict[str, float]:
    """The user's Veo spend this day and month (zero for a period that has rolled over)."""
    current = periods(now)
    return {period: float(doc.get(f"usd_{period}", 0.0)) if doc.get(period) == current[period] else 0.0
            for period in PERIODS}


def allowance(doc: dict[str, Any], limits: dict[str, float], now: dt.datetime) -> dict[str, Any]:
    """What the user sees: per period, the limit, what was spent and what is left (USD)."""
    used = spent(doc, now)
    return {period: {"limit_usd": limits[period], "spent_usd": round(used[period], 4),
                     "left_usd": round(max(0.0, limits[period] - used[period]), 4),
                     "resets_in_seconds": seconds_until_reset(period, now)} for period in PERIODS}


def user_allowance(db: firestore.Client, user_id: str, limits: dict[str, float],
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """The user's Veo spend allowance (for GET /me)."""
    snap = db.collection(layout.USER_SPEND).document(user_id).get()
    return allowance((snap.to_dict() or {}) if snap.exists else {}, limits, now or status.utcnow())


def reserve(db: firestore.Client, user_id: str, usd: float, limits: dict[str, float], plan: str,
            now: dt.datetime | None = None) -> dict[str, Any]:
    """Take a job's estimated Veo cost from the user's allowances in a transaction; SpendLimit (nothing taken)
    when a period's limit would be passed. Returns the reservation the job records as `spend`."""
    ref = db.collection(layout.USER_SPEND).document(user_id)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> dict[str, Any]:
        at = now or status.utcnow()
        snap = ref.get(transaction=tx)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        used = spent(doc, at)
        for period in PERIODS:
            if used[period] + usd > limits[period] + EPSILON_USD:
                raise SpendLimit(f"Veo spend limit: this video's estimated ${usd:.2f} passes the {plan} plan's "
                                 f"${limits[period]:g} per {period} (${max(0.0, limits[period] - used[period]):.2f} "
                                 "left)", retry_after=seconds_until_reset(period, at),
                                 allowance=allowance(doc, limits, at))
        tx.set(ref, {**periods(at), **{f"usd_{p}": round(used[p] + usd, 6) for p in PERIODS}})
        return {"usd": round(usd, 6), **periods(at), "reconciled": False}

    reservation: dict[str, Any] = contended_retrying("spend")(lambda: run(db.transaction()))
    log.info("veo spend reserved", user_id=user_id, usd=usd)
    return reservation


def _adjust(tx: firestore.Transaction, ref: Any, reservation: dict[str, Any], delta: float,
            now: dt.datetime) -> None:
    """Add `delta` USD to the periods of a reservation that are still current."""
    snap = ref.get(transaction=tx)
    doc = (snap.to_dict() or {}) if snap.exists else {}
    used, current = spent(doc, now), periods(now)
    fields: dict[str, Any] = {p: current[p] for p in PERIODS}
    for period in PERIODS:
        same = reservation.get(period) == current[period]
        fields[f"usd_{period}"] = round(max(0.0, used[period] + (delta if same else 0.0)), 6)
    tx.set(ref, fields)


def release(db: firestore.Client, user_id: str, reservation: dict[str, Any]) -> None:
    """Give a reservation back (the job was never created)."""
    ref = db.collection(layout.USER_SPEND).document(user_id)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        _adjust(tx, ref, reservation, -float(reservation.get("usd", 0.0)), status.utcnow())

    contended_retrying("spend")(lambda: run(db.transaction()))


def billed_veo_usd(doc: dict[str, Any]) -> float:
    """What the job's ledger says Veo billed."""
    return float(((doc.get("usage") or {}).get("cost_usd") or {}).get("veo", 0.0))


def reconcile(db: firestore.Client, video_id: str) -> float | None:
    """Replace a finished job's estimated Veo spend by what its ledger billed, once; the difference, or None
    when there was nothing to do (no reservation, or already reconciled)."""
    job_ref = status.doc_ref(db, video_id)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> float | None:
        snap = job_ref.get(transaction=tx)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        reservation = doc.get("spend") or {}
        if not reservation or reservation.get("reconciled") or not doc.get("owner"):
            return None
        billed = billed_veo_usd(doc)
        delta = billed - float(reservation.get("usd", 0.0))
        _adjust(tx, db.collection(layout.USER_SPEND).document(doc["owner"]), reservation, delta, status.utcnow())
        tx.update(job_ref, {"spend": {**reservation, "reconciled": True, "billed_usd": round(billed, 6)}})
        return delta

    delta: float | None = contended_retrying("spend")(lambda: run(db.transaction()))
    if delta is not None:
        log.info("veo spend reconciled from the ledger", video_id=video_id, difference_usd=round(delta, 4))
    return delta


def take_project(db: firestore.Client, usd: float, cap_usd: float, now: dt.datetime | None = None) -> str:
    """Add a submission's price to the project's spend of the UTC day (the day's id, for give_back_project);
    SpendHold, nothing added, when it would pass `cap_usd` (0: no cap)."""
    at = now or status.utcnow()
    day = periods(at)["day"]
    ref = db.collection(layout.PROJECT_SPEND).document(day)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> float:
        snap = ref.get(transaction=tx)
        today = float(((snap.to_dict() or {}) if snap.exists else {}).get("usd", 0.0))
        if cap_usd > 0 and today + usd > cap_usd + EPSILON_USD:
            return today
        tx.set(ref, {"usd": round(today + usd, 6), "updated_at": at})
        return -1.0

    today: float = contended_retrying("spend")(lambda: run(db.transaction()))
    if today >= 0:
        log.error("veo spend: the project's daily cap is reached; new Veo submissions wait",
                  event="project_spend_cap", day=day, spent_usd=round(today, 4), cap_usd=cap_usd,
                  submission_usd=round(usd, 4))
        raise SpendHold(f"the project's Veo spend today (${today:.2f}) plus this block (${usd:.2f}) passes "
                        f"PROJECT_VEO_USD_PER_DAY=${cap_usd:g}; the job waits")
    return day


def give_back_project(db: firestore.Client, day: str | None, usd: float) -> None:
    """Return a submission's price to the project's spend of `day` (the submission was not billed)."""
    if not day or usd <= 0:
        return
    db.collection(layout.PROJECT_SPEND).document(day).set({"usd": firestore.Increment(-usd)}, merge=True)


# A storyboard line's speech, over-estimated: contract T8's ~32 audio tokens per second, for a line of at most
# 10 s (MAX_DIALOGUE_WORDS), and its text in tokens (with the instruction around it).
SPEECH_AUDIO_TOKENS_PER_SECOND = 32
SPEECH_MAX_SECONDS = 10.0


def speech_call_usd(text: str) -> float:
    """The most one TTS call speaking `text` is expected to bill."""
    return speech_usd(len(text) // 2 + 100, math.ceil(SPEECH_AUDIO_TOKENS_PER_SECOND * SPEECH_MAX_SECONDS))


def reassembly_usd(video_seconds: float) -> float:
    """The compute a remedial re-assembly (and its QA) of a video of `video_seconds` is expected to bill."""
    return sum(compute_usd(agent, video_seconds * rate) for agent, rate in REASSEMBLY_SECONDS_PER_VIDEO_SECOND.items())


def guard(doc: dict[str, Any], call_usd: float, call: str, now: dt.datetime | None = None) -> None:
    """Before a paid call of a running job: its billed cost so far (the receipt: ledger and measured compute)
    plus the call's price must fit its max_cost_usd; else BudgetExhausted carrying the receipt."""
    cap = doc.get("max_cost_usd")
    if cap is None:
        return
    receipt = build_receipt(doc, now or status.utcnow())
    billed = float(receipt["cost_usd"]["total"])
    if billed + call_usd <= float(cap) + EPSILON_USD:
        return
    log.warning("max_cost_usd: stopping before a paid call", call=call, billed_usd=billed, call_usd=call_usd,
                max_cost_usd=cap)
    raise BudgetExhausted(f"stopped before {call}: billed ${billed:.2f} + ${call_usd:.2f} would pass "
                          f"max_cost_usd=${float(cap):g}", {**receipt, "stopped_before": call})
