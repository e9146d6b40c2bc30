"""The QA report's Markdown: every check with its verdict."""
from __future__ import annotations

from shared.qa.report import render_markdown


def test_markdown_report_lists_every_check_with_its_verdict():
    report = {"video_id": "v1", "passed": False, "blocking_failures": ["resolution"], "warnings": ["black_seconds"],
              "preset": {"name": "brand_campaign", "version": 1},
              "checks": [{"name": "resolution", "measured": "720x1280", "threshold": "1080x1920", "passed": False,
                          "blocking": True, "unit": ""},
                         {"name": "black_seconds", "measured": 1.5, "threshold": 0.5, "passed": False,
                          "blocking": False, "unit": "s"}]}
    text = render_markdown(report)
    assert "FAILED: resolution" in text
    assert "| resolution | 720x1280 | 1080x1920 | **FAIL** |" in text
    assert "| black_seconds | 1.5 s | <= 0.5 s | warn |" in text
