"""The remedial plan after a blocking QA failure: corrected loudness target, bounded attempts."""
from __future__ import annotations

import pytest

from shared.ops.remedial import MAX_REMEDIAL_ATTEMPTS, plan_remedy
from shared.pricing.presets import PRESETS


def _failed_doc(checks: dict[str, float], attempts: int = 0) -> dict:
    return {"qa": {"blocking_failures": list(checks),
                   "failed_checks": {k: {"measured": v} for k, v in checks.items()}},
            "remedial": {"attempts": attempts} if attempts else {}}


def test_remedy_corrects_the_loudness_target_by_the_measured_error():
    brand = PRESETS["brand_campaign"]
    remedy = plan_remedy(_failed_doc({"integrated_loudness_lufs": -17.5}), brand)
    assert remedy.reassemble and remedy.loudness_target_lufs == pytest.approx(-10.5)
    peak = plan_remedy(_failed_doc({"true_peak_dbtp": 0.4}), brand)
    assert peak.loudness_target_lufs < brand.loudness_lufs


def test_remedy_is_bounded_and_refuses_what_reassembly_cannot_fix():
    brand = PRESETS["brand_campaign"]
    assert not plan_remedy(_failed_doc({"resolution": 0}), brand).reassemble
    spent = plan_remedy(_failed_doc({"integrated_loudness_lufs": -20}, attempts=MAX_REMEDIAL_ATTEMPTS), brand)
    assert not spent.reassemble and "after" in spent.reason
