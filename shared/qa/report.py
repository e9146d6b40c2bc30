"""A person-readable rendering of a QA report (Markdown), stored next to the JSON one."""
from __future__ import annotations

from typing import Any


def _value(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and len(value) == 2:
        return f"{_value(value[0])} – {_value(value[1])}{' ' + unit if unit else ''}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items()) + (f" {unit}" if unit else "")
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) < 0.01 else f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{text} {unit}".strip()
    return f"{value} {unit}".strip()


def _verdict(check: dict[str, Any]) -> str:
    if check["passed"]:
        return "pass"
    return "**FAIL**" if check["blocking"] else "warn"


def _limit(check: dict[str, Any]) -> str:
    threshold, unit = check["threshold"], check.get("unit", "")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and isinstance(
            check["measured"], (int, float)) and not isinstance(check["measured"], bool):
        sense = ">=" if check["name"] == "subtitle_speech_coverage" else "<="
        if check["name"] == "constant_frame_rate":
            sense = "="
        return f"{sense} {_value(threshold, unit)}"
    return _value(threshold, unit)


def _cell(text: Any) -> str:
    return str(text or "—").replace("|", "\\|").replace("\n", " ")


def _dialogue_lines(blocks: list[dict[str, Any]]) -> list[str]:
    """One row per block with speech or dialogue: the verdict, the scripted line and what was heard."""
    if not blocks:
        return []
    lines = ["", "## Dialogue", "", "| block | verdict | scripted | heard |", "|---|---|---|---|"]
    for block in blocks:
        verdict = block["verdict"] if block["verdict"] == "delivered" else f"**{block['verdict']}**"
        if block.get("language") and block["verdict"] == "other_language":
            verdict += f" ({block['language']})"
        lines.append(f"| {block['block']} | {verdict} | {_cell(block.get('scripted'))} | {_cell(block.get('heard'))} |")
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """The report as a short Markdown page: verdict first, then one table row per check."""
    preset = report.get("preset") or {}
    verdict = "PASSED" if report["passed"] else "FAILED: " + ", ".join(report["blocking_failures"])
    lines = [
        f"# QA report — {report.get('video_id', 'file')}",
        "",
        f"**{verdict}** (preset `{preset.get('name', '?')}` v{preset.get('version', '?')})",
        "",
    ]
    if report.get("warnings"):
        lines += [f"Warnings (not blocking): {', '.join(report['warnings'])}", ""]
    lines += ["| check | measured | required | verdict |", "|---|---|---|---|"]
    for check in report["checks"]:
        lines.append(f"| {check['name']} | {_value(check['measured'], check.get('unit', ''))} | "
                     f"{_limit(check)} | {_verdict(check)} |")
    lines += _dialogue_lines(report.get("dialogue") or [])
    if report.get("file"):
        lines += ["", f"File: `{report['file']}`"]
    return "\n".join(lines) + "\n"
