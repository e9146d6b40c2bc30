"""The bare-runtime tier (issue 13): the agents run as on the Cloud Functions python312 image, which has no
ffmpeg, ffprobe, espeak-ng or fontconfig tools and no fonts. A second local cloud is started whose agents
(functions-framework processes, the front door included) get a PATH without those tools and a fontconfig that
knows no font directory (infra.local.environment.bare_runtime_env); the emulators and the simulator, which stands
in for Google, keep the machine's tools. In that stack a reviewed job previews its storyboard (speech from the
simulated Gemini TTS model) and then completes with burned subtitles.

The checks read the agents' real process environments (/proc/<pid>/environ) and show that the old ways (PATH
ffmpeg, espeak-ng, fc-match, system fonts) fail there, so the tier cannot pass with a stack that still needs them.
"""
from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from infra.local.cloud import LocalCloud, patched_environ
from infra.local.components import agent_ports
from infra.local.environment import bare_runtime_env
from shared.core.clients import make_clients
from shared.core.config import LocalPorts, settings_from_env
from shared.core.storage import read_json
from shared.media.binaries import ffmpeg_binary
from tests.conftest import ROOT, TEST_PORT_OFFSET, TEST_SETTINGS
from tests.support import Pipeline, SimulatorControl, dialogue_of, ffprobe, words_of

pytestmark = pytest.mark.timeout(1500)
BARE_OFFSET = TEST_PORT_OFFSET + 30  # beside the default test stack (and the Vertex one at +50), never on it
MISSING = ("ffmpeg", "ffprobe", "espeak-ng", "fc-match")
FONTS_DIR = ROOT / "shared" / "assembly" / "assets" / "fonts"
CUE_ASS = """[Script Info]
ScriptType: v4.00+
PlayResX: 640
PlayResY: 360

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding
Style: Default,DejaVu Sans,40,&H00FFFFFF,&H00FFFFFF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,2,10,10,20,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.00,0:00:02.00,Default,,0,0,0,,Hello harbour
"""


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A local cloud whose agents have the runtime image's tools and fonts (none of the above)."""
    agent_env = bare_runtime_env(tmp_path_factory.mktemp("bare-runtime"))
    d = LocalPorts()
    ports = LocalPorts(d.firestore + BARE_OFFSET, d.pubsub + BARE_OFFSET, d.gcs + BARE_OFFSET,
                       d.simulator + BARE_OFFSET, d.agents_base + BARE_OFFSET)
    cloud = LocalCloud(ROOT, ports, extra_env=TEST_SETTINGS, state_dir=tmp_path_factory.mktemp("bare-cloud"),
                       agent_env=agent_env)
    cloud.start()
    try:
        with patched_environ(cloud.env()):
            clients = make_clients(settings_from_env(cloud.env()))
            pipeline = Pipeline(cloud, clients)
            pipeline.use_push()
            yield {"cloud": cloud, "clients": clients, "pipeline": pipeline, "agent_env": agent_env,
                   "simulator": SimulatorControl(cloud.url_of("simulator"))}
    finally:
        cloud.stop()


def process_env(pid: int) -> dict[str, str]:
    """The environment a running process was started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def test_every_agent_runs_without_the_tools_and_fonts_the_runtime_image_lacks(bare: dict[str, Any]) -> None:
    cloud, pids = bare["cloud"], bare["cloud"].pids()
    agents = list(agent_ports(cloud.ports))
    assert "agent-script" in agents and len(agents) >= 5, "the front door and every event agent"
    for agent in agents:
        env = process_env(pids[agent])
        assert {tool: shutil.which(tool, path=env["PATH"]) for tool in MISSING} == dict.fromkeys(MISSING), agent
        fonts_conf = Path(env["FONTCONFIG_FILE"]).read_text()
        assert "<dir" not in fonts_conf and "<include" not in fonts_conf, "fontconfig names no font folder"
        assert not Path(env["HOME"], ".fonts").exists() and env["HOME"] != str(Path.home())
    simulator = process_env(pids["simulator"])
    assert shutil.which("espeak-ng", path=simulator["PATH"]), "the simulator keeps the machine's tools"


def test_the_old_ways_fail_in_the_agents_environment(bare: dict[str, Any], tmp_path: Path) -> None:
    """PATH tools are not there, and libass draws nothing unless it is handed the repository's fonts."""
    env = process_env(bare["cloud"].pids()["agent-assembler"])
    for argv in (["espeak-ng", "-w", str(tmp_path / "x.wav"), "hello"], ["ffmpeg", "-version"],
                 ["ffprobe", "-version"], ["fc-match", "sans"]):
        with pytest.raises(FileNotFoundError):
            subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False)
    ass = tmp_path / "cue.ass"
    ass.write_text(CUE_ASS, encoding="utf-8")

    def burned(extra: str, environ: dict[str, str]) -> int:
        out = subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
                              "-i", "color=black:s=640x360:r=24:d=1", "-vf", f"subtitles={ass}{extra}",
                              "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                             env=environ, capture_output=True, timeout=60, check=True).stdout
        return int(np.count_nonzero(np.frombuffer(out, dtype=np.uint8) > 200))

    if Path("/usr/share/fonts/truetype/dejavu").is_dir():  # the machine's own fonts draw it (control)
        assert burned("", dict(os.environ)) > 300
    assert burned("", env) == 0, "system fonts are invisible to the agents: without fontsdir nothing is drawn"
    assert burned(f":fontsdir={FONTS_DIR}", env) > 300, "with the vendored fonts the caption is drawn"


def _band_difference(final: Path, source: Path, at: float, rows: slice) -> int:
    """Pixels of a horizontal band that differ strongly between the delivered frame and the Veo source's."""
    def gray(path: Path) -> np.ndarray:
        raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{at:.3f}", "-i", str(path), "-frames:v", "1",
                              "-vf", "scale=540:960", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                             check=True, capture_output=True).stdout
        return np.frombuffer(raw, dtype=np.uint8).reshape(960, 540).astype(np.int16)

    return int(np.count_nonzero(np.abs(gray(final)[rows] - gray(source)[rows]) > 90))


def test_a_reviewed_job_previews_with_tts_speech_then_completes_with_burned_subtitles(
        bare: dict[str, Any], tmp_path: Path) -> None:
    from shared.assembly.transcribe import transcribe

    pipeline, clients, simulator = bare["pipeline"], bare["clients"], bare["simulator"]
    simulator.clear_ledger()
    created = pipeline.create_video({"theme": f"A lantern maker {uuid.uuid4().hex[:6]} who lights a valley",
                                     "preset": "quick_social", "review": True, "language": "en"})
    assert created.status_code == 202, created.text
    video_id = created.json()["video_id"]
    board = pipeline.storyboard(video_id, timeout=600)  # rendered by the storyboard function, in the bare runtime
    preview = tmp_path / "storyboard.mp4"
    preview.write_bytes(requests.get(board["preview"]["url"], timeout=60).content)
    assert {s["codec_type"] for s in ffprobe(preview)["streams"]} == {"video", "audio"}
    script = read_json(clients.storage, pipeline.doc(video_id)["script_uri"])
    heard = words_of(" ".join(w.text for w in transcribe(preview, "en").words))
    spoken = words_of(dialogue_of(script))
    assert difflib.SequenceMatcher(a=spoken, b=heard, autojunk=False).ratio() >= 0.6, (spoken, heard)
    usage, billed = pipeline.doc(video_id)["usage"], simulator.billing()["tokens"]["gemini-3.8-flash-lite-tts"]
    assert usage["speech_calls"] == sum(1 for b in script["blocks"] if (b.get("dialogue") or "").strip())
    assert (usage["speech_prompt_tokens"], usage["speech_output_tokens"]) == (billed["prompt"], billed["candidates"])

    assert pipeline.api("POST", f"/videos/{video_id}/approve").status_code == 202
    doc = pipeline.wait_for(video_id, {"completed", "qa_failed"}, timeout=1300)
    assert doc["status"] == "completed", doc.get("error")
    final = pipeline.download(doc["final_video_url"], tmp_path / "final.mp4")
    first_segment = (doc.get("veo_segment_uris") or [doc["veo_video_uri"]])[0]  # starts where the final starts
    source = pipeline.download(first_segment, tmp_path / "veo.mp4")
    srt = pipeline.download(doc["srt_url"], tmp_path / "final.srt").read_text()
    info = ffprobe(final)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"} and video["codec_name"] == "h264"
    assert video["height"] > video["width"]
    first_cue = srt.split("\n\n")[0].splitlines()[1].split(" --> ")
    start, end = (_seconds(t) for t in first_cue)
    middle = (start + end) / 2
    caption_band = _band_difference(final, source, middle, slice(600, 940))
    top_band = _band_difference(final, source, middle, slice(0, 300))
    assert caption_band > 400 and caption_band > 5 * max(top_band, 1), (caption_band, top_band)
    print(json.dumps({"video_id": video_id, "caption_band": caption_band, "top_band": top_band}))


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.strip().split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))
