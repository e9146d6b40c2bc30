"""Per-user plans: daily and monthly quotas of videos, AI calls and storyboard previews, and a short-window rate
limit.

One Firestore document per user, `quotas/{user id}` {day, month, videos_day, videos_month, ai_calls_day,
ai_calls_month, previews_day, previews_month, recent: [epoch seconds of recent expensive requests]}, read and
written in one transaction per request, so concurrent requests cannot both take the last unit.
A refused request raises QuotaError (HTTP 429 with `Retry-After`): `rate_limited` when the window
is full, `quota_exceeded` when a daily or monthly count is used up.

A plan also gates the presets (`preset_not_in_plan`, 403) and carries money limits: the Veo spend a user's
accepted jobs may reach per UTC day and month (shared.pricing.spend: reserved from the estimate at acceptance,
reconciled from the ledger when the job ends; over it, 429 `spend_limit` with the allowance left).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

from google.cloud import firestore

from shared.core import layout, log, users
from shared.core.errors import ErrorCode, InvalidInputError, QuotaError
from shared.core.retry import contended_retrying
from shared.pricing import spend

KINDS = ("videos", "ai_calls", "previews")
PERIODS = ("day", "month")


@dataclass(frozen=True)
class Plan:
    """Limits of one plan; `burst` expensive requests per rate-limit window."""

    name: str
    videos_per_day: int
    videos_per_month: int
    ai_calls_per_day: int
    ai_calls_per_month: int
    burst: int
    previews_per_day: int = 10  # storyboard renders (each speaks its dialogue with the paid TTS model)
    previews_per_month: int = 60
    veo_usd_per_day: float = 80.0  # the free plan's money limits unless a plan says otherwise
    veo_usd_per_month: float = 300.0
    presets: tuple[str, ...] = ("quick_social", "brand_campaign", "premium_spot")

    def limit(self, kind: str, period: str) -> int:
        return int(getattr(self, f"{kind}_per_{period}"))

    def spend_limits(self) -> dict[str, float]:
        return {"day": self.veo_usd_per_day, "month": self.veo_usd_per_month}

    def check_preset(self, preset: str) -> None:
        """403 `preset_not_in_plan` for a preset this plan does not include."""
        if preset not in self.presets:
            raise InvalidInputError(f"preset {preset!r} is not part of the {self.name} plan (it has "
                                    f"{', '.join(self.presets)})", code=ErrorCode.PRESET_NOT_IN_PLAN, field="preset")


# A brand_campaign video is about $26 of Veo (shared.api.estimates): free allows three a day, fewer a month.
PLANS: dict[str, Plan] = {
    "free": Plan("free", videos_per_day=3, videos_per_month=20, ai_calls_per_day=10, ai_calls_per_month=60, burst=2,
                 veo_usd_per_day=80.0, veo_usd_per_month=300.0, presets=("quick_social", "brand_campaign")),
    "pro": Plan("pro", videos_per_day=20, videos_per_month=300, ai_calls_per_day=60, ai_calls_per_month=900,
                burst=5, previews_per_day=60, previews_per_month=900, veo_usd_per_day=600.0,
                veo_usd_per_month=6000.0),
    "studio": Plan("studio", videos_per_day=200, videos_per_month=3000, ai_calls_per_day=600,
                   ai_calls_per_month=9000, burst=30, previews_per_day=600, previews_per_month=9000,
                   veo_usd_per_day=6000.0, veo_usd_per_month=60000.0),
}


def plan_named(name: str | None) -> Plan:
    """The plan called `name` (unknown names fall back to free)."""
    return PLANS.get(name or "free", PLANS["free"])


def user_plan(db: firestore.Client, user_id: str, default_plan: str) -> Plan:
    """The user's plan (the user is recorded on first sight, on the deployment's default plan)."""
    return plan_named(users.ensure_user(db, user_id, default_plan=default_plan).get("plan"))


def _periods(now: dt.datetime) -> dict[str, str]:
    return {"day": f"{now:%Y-%m-%d}", "month": f"{now:%Y-%m}"}


def seconds_until_reset(period: str, now: dt.datetime) -> int:
    """Seconds until the next UTC midnight (day) or first of the month (month)."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        reset = start + dt.timedelta(days=1)
    else:
        reset = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return math.ceil((reset - now).total_seconds())


def current_counts(doc: dict[str, Any], now: dt.datetime) -> dict[str, int]:
    """The document's counts, zeroed for a period that has rolled over."""
    periods = _periods(now)
    return {f"{kind}_{period}": int(doc.get(f"{kind}_{period}", 0)) if doc.get(period) == periods[period] else 0
            for kind in KINDS for period in PERIODS}


def _check_rate(doc: dict[str, Any], plan: Plan, window: float, now_s: float) -> list[float]:
    recent = sorted(t for t in doc.get("recent", []) if t > now_s - window)
    if len(recent) >= plan.burst:
        retry = math.ceil(recent[-plan.burst] + window - now_s)
        raise QuotaError(f"rate limit: at most {plan.burst} such requests per {window:g} s on the {plan.name} plan",
                         code=ErrorCode.RATE_LIMITED, retry_after=retry)
    return recent


def _check_quota(counts: dict[str, int], plan: Plan, wanted: dict[str, int], now: dt.datetime) -> None:
    for kind, amount in wanted.items():
        for period in PERIODS:
            limit = plan.limit(kind, period)
            if amount and counts[f"{kind}_{period}"] + amount > limit:
                raise QuotaError(f"{kind.replace('_', ' ')} quota used up: {limit} per {period} on the "
                                 f"{plan.name} plan", code=ErrorCode.QUOTA_EXCEEDED,
                                 retry_after=seconds_until_reset(period, now))


def consume(db: firestore.Client, user_id: str, plan: Plan, *, videos: int = 0, ai_calls: int = 0,
            previews: int = 0, rate_limited: bool = False, window_seconds: float = 60.0,
            now: dt.datetime | None = None) -> dict[str, int]:
    """Take units from the user's quotas in a transaction; QuotaError (nothing taken) when over a limit."""
    ref = db.collection(layout.USER_QUOTAS).document(user_id)
    wanted = {"videos": videos, "ai_calls": ai_calls, "previews": previews}

    @firestore.transactional
    def run(tx: firestore.Transaction) -> dict[str, int]:
        at = now or dt.datetime.now(dt.UTC)
        snap = ref.get(transaction=tx)
        doc: dict[str, Any] = snap.to_dict() or {}  # None when the user has no quota document yet
        recent = _check_rate(doc, plan, window_seconds, at.timestamp()) if rate_limited else \
            [t for t in doc.get("recent", []) if t > at.timestamp() - window_seconds]
        counts = current_counts(doc, at)
        _check_quota(counts, plan, wanted, at)
        for kind, amount in wanted.items():
            for period in PERIODS:
                counts[f"{kind}_{period}"] += amount
        tx.set(ref, {**counts, **_periods(at), "recent": recent + ([at.timestamp()] if rate_limited else [])})
        return counts

    counts: dict[str, int] = contended_retrying("quota")(lambda: run(db.transaction()))  # wrapper returns Any
    log.info("quota used", user_id=user_id, plan=plan.name, **counts)
    return counts


def refund(db: firestore.Client, user_id: str, *, videos: int = 0, ai_calls: int = 0, previews: int = 0,
           now: dt.datetime | None = None) -> None:
    """Give back units taken today for work that did not happen (e.g. a script served from the cache)."""
    ref = db.collection(layout.USER_QUOTAS).document(user_id)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> None:
        at = now or dt.datetime.now(dt.UTC)
        snap = ref.get(transaction=tx)
        if not snap.exists:
            return
        counts = current_counts(snap.to_dict() or {}, at)
        for kind, amount in (("videos", videos), ("ai_calls", ai_calls), ("previews", previews)):
            for period in PERIODS:
                counts[f"{kind}_{period}"] = max(0, counts[f"{kind}_{period}"] - amount)
        tx.update(ref, {**counts, **_periods(at)})

    run(db.transaction())


def usage(db: firestore.Client, user_id: str, plan: Plan, window_seconds: float = 60.0,
          now: dt.datetime | None = None) -> dict[str, Any]:
    """What the user sees: their plan's limits, what is used and what is left, per period."""
    at = now or dt.datetime.now(dt.UTC)
    snap = db.collection(layout.USER_QUOTAS).document(user_id).get()
    doc = snap.to_dict() if snap.exists else {}
    counts = current_counts(doc or {}, at)
    recent = [t for t in (doc or {}).get("recent", []) if t > at.timestamp() - window_seconds]
    periods = {period: {kind: {"used": counts[f"{kind}_{period}"], "limit": plan.limit(kind, period),
                               "left": max(0, plan.limit(kind, period) - counts[f"{kind}_{period}"])}
                        for kind in KINDS} | {"resets_in_seconds": seconds_until_reset(period, at)}
               for period in PERIODS}
    return {"plan": asdict(plan), **periods,
            "rate_limit": {"window_seconds": window_seconds, "limit": plan.burst, "used": len(recent)},
            "veo_spend": spend.user_allowance(db, user_id, plan.spend_limits(), at)}
