"""Issue 15 on the real local cloud: money limits (plans, the project's daily cap, max_cost_usd while the job runs),
error bodies without upstream text, a script cache that tells no user what another asked, and API keys only for
operator-created users. Evidence: the simulator's ledger and billing, HTTP answers, the agents' log files."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.api.auth import create_api_key
from shared.core import layout, status
from shared.core.errors import InvalidInputError
from shared.core.messages import VideoRequest
from shared.core.users import ensure_user
from shared.pricing import spend
from shared.pricing.prices import VEO_PRICE_PER_SECOND
from shared.video.step import generate_video
from tests.support import TEST_USER, billed_seconds, drive_video_step, make_job, read_sse, scene_of

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("pull_mode")]
ROOT = Path(__file__).resolve().parents[3]
STANDARD_USD_PER_SECOND = VEO_PRICE_PER_SECOND["standard"]  # the local default VEO_MODEL is a standard-tier model
MARKER = "simulated INVALID_ARGUMENT"  # the simulator's upstream text of a 400 (infra/local/simulator/faults.py)


@pytest.fixture(autouse=True)
def clean_simulator(simulator):  # type: ignore[no-untyped-def]
    simulator.clear_faults()
    simulator.clear_ledger()
    yield
    simulator.clear_faults()


def _user(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _theme() -> str:
    return f"A lantern maker {uuid.uuid4().hex[:6]} who lights a whole valley"


def _set_spent(clients, user: str, usd: float) -> None:  # type: ignore[no-untyped-def]
    """What the user's accepted jobs already spent today and this month."""
    clients.db.collection(layout.USER_SPEND).document(user).set(
        {**spend.periods(status.utcnow()), "usd_day": usd, "usd_month": usd})


# --- plans: presets and money limits --------------------------------------------------------------------

def test_a_plan_refuses_veo_spend_past_its_daily_allowance_and_shows_what_is_left(pipeline, clients):
    user = _user("spender")
    pipeline.key_for(user, plan="free")  # free: $80 of Veo a day (shared.api.quotas)
    _set_spent(clients, user, 70.0)
    refused = pipeline.create_video({"theme": _theme(), "preset": "brand_campaign", "review": True}, user_id=user)
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    error = refused.json()["error"]
    assert error["code"] == "spend_limit" and error["allowance"]["day"]["left_usd"] == pytest.approx(10.0)
    me = pipeline.api("GET", "/me", user).json()
    assert me["quotas"]["veo_spend"]["day"]["left_usd"] == pytest.approx(10.0)
    assert me["quotas"]["day"]["videos"]["used"] == 0, "a refused request takes no quota"

    cheap = pipeline.create_video({"theme": _theme(), "preset": "quick_social", "review": True}, user_id=user)
    assert cheap.status_code == 202, cheap.text
    estimate_veo = pipeline.doc(cheap.json()["video_id"])["estimate"]["cost_usd"]["veo"]
    after = pipeline.api("GET", "/me", user).json()["quotas"]["veo_spend"]["day"]
    assert after["spent_usd"] == pytest.approx(70.0 + estimate_veo)

    assert pipeline.api("POST", f"/videos/{cheap.json()['video_id']}/cancel", user).status_code == 200
    back = pipeline.api("GET", "/me", user).json()["quotas"]["veo_spend"]["day"]
    assert back["spent_usd"] == pytest.approx(70.0), "a cancelled job billed nothing: its reservation goes back"


def test_a_plan_gates_its_presets(pipeline):
    user = _user("free")
    pipeline.key_for(user, plan="free")
    refused = pipeline.create_video({"theme": _theme(), "preset": "premium_spot", "review": True}, user_id=user)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "preset_not_in_plan"


# --- max_cost_usd while the job runs, and the spend reconciled from the ledger ------------------------------

def test_max_cost_usd_stops_the_job_before_the_block_that_would_pass_it(pipeline, simulator, clients):
    user = _user("budget")
    now = status.utcnow()
    reservation = {"usd": 6.0, **spend.periods(now), "reconciled": False}
    _set_spent(clients, user, 6.0)
    video_id = make_job(clients, blocks=2, max_cost_usd=4.0, owner=user, spend=reservation)  # blocks: 8 s + 7 s
    drive_video_step(pipeline, video_id)
    doc = pipeline.doc(video_id)
    assert doc["status"] == "failed" and doc["error"]["code"] == "over_budget", doc.get("error")
    ledger = [e for e in simulator.ledger() if video_id in (e.get("scene") or "")]
    assert len(ledger) == 1 and scene_of(video_id, 0) in ledger[0]["scene"], "block 1 was never sent to Veo"
    billed_usd = billed_seconds(simulator.ledger(), video_id) * STANDARD_USD_PER_SECOND
    assert billed_usd == pytest.approx(8 * STANDARD_USD_PER_SECOND) and billed_usd <= 4.0
    assert doc["receipt"]["cost_usd"]["veo"] == pytest.approx(billed_usd) and doc["receipt"]["stopped_before"]
    # The job ended: the user's reserved $6 became what the simulator billed.
    spent = clients.db.collection(layout.USER_SPEND).document(user).get().to_dict()
    assert spent["usd_day"] == pytest.approx(billed_usd) and pipeline.doc(video_id)["spend"]["reconciled"]


def test_the_project_daily_cap_holds_new_veo_submissions_and_the_job_resumes(pipeline, simulator, clients, capsys):
    video_id = make_job(clients, blocks=1)
    today = clients.db.collection(layout.PROJECT_SPEND).document(spend.periods(status.utcnow())["day"]).get()
    spent = float((today.to_dict() or {}).get("usd", 0.0)) if today.exists else 0.0
    capped = dataclasses.replace(clients, settings=dataclasses.replace(
        clients.settings, project_veo_usd_per_day=spent + 1.0))  # a block costs more than $1
    assert generate_video(capped, VideoRequest(video_id=video_id)) == "held"
    doc = pipeline.doc(video_id)
    assert doc["status"] == "video_generating" and doc["spend_hold"]["reason"] and doc.get("lease") is None
    assert doc.get("monitor") is None and doc["next_attempt_at"] > status.utcnow(), "the monitor resumes it later"
    assert simulator.ledger() == [] and simulator.billing()["operations"] == 0, "nothing reached Veo"
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "project_spend_cap" in line]
    assert alerts and alerts[0]["severity"] == "ERROR", "the log line the alert's metric counts"

    raised = dataclasses.replace(clients, settings=dataclasses.replace(
        clients.settings, project_veo_usd_per_day=spent + 100.0))
    for attempt in range(1, 10):
        if generate_video(raised, VideoRequest(video_id=video_id, attempt=attempt)) == "video_generated":
            break
    assert pipeline.doc(video_id)["status"] == "video_generated"
    assert billed_seconds(simulator.ledger(), video_id) == 8


# --- error bodies ---------------------------------------------------------------------------------------

def test_a_failed_jobs_upstream_message_stays_in_the_log_under_the_id_the_api_returns(pipeline, simulator, clients,
                                                                                       local_cloud):
    video_id = make_job(clients, owner=TEST_USER)
    simulator.set_faults([{"kind": "400", "match": f"Scene: {scene_of(video_id, 0)}"}])
    drive_video_step(pipeline, video_id)
    assert MARKER in pipeline.doc(video_id)["error"]["message"], "the fault reached the job"
    answer = pipeline.api("GET", f"/videos/{video_id}")
    assert answer.status_code == 200 and MARKER not in answer.text
    error = answer.json()["error"]
    assert error["code"] == "veo_rejected" and error["error_id"]
    streamed = read_sse(pipeline, video_id, timeout=60)
    assert MARKER not in json.dumps(streamed) and streamed[-1][1]["error"]["error_id"] == error["error_id"]
    log_file = local_cloud.state_dir / "logs" / "agent-video-veo31.log"
    logged = [json.loads(line) for line in log_file.read_text(errors="replace").splitlines()
              if error["error_id"] in line and line.startswith("{")]
    assert any(MARKER in str(entry.get("reason")) for entry in logged), "the log line carries the details"


# --- the script cache -----------------------------------------------------------------------------------

def test_the_script_cache_is_per_user_keeps_no_personal_data_and_goes_with_the_video(pipeline, clients):
    alice, bob = _user("alice"), _user("bob")
    theme = f"{_theme()}; write to jo.doe@example.com or +44 20 7946 0958"
    body = {"theme": theme, "preset": "quick_social", "review": True}
    first = pipeline.create_video(body, user_id=alice).json()
    other = pipeline.create_video(body, user_id=bob).json()
    again = pipeline.create_video(body, user_id=alice).json()
    assert (first["script_cache"], other["script_cache"], again["script_cache"]) == (
        {"hit": False}, {"hit": False}, {"hit": True}), "bob's request tells nothing of alice's"
    key = pipeline.doc(again["video_id"])["script_cache"]["key"]
    entry = clients.db.collection(layout.SCRIPT_CACHE).document(key).get().to_dict()
    stored = json.dumps(entry, default=str)
    assert "jo.doe@example.com" not in stored and "7946" not in stored and alice not in stored
    assert pipeline.api("DELETE", f"/videos/{again['video_id']}", alice).status_code == 204
    assert not clients.db.collection(layout.SCRIPT_CACHE).document(key).get().exists


# --- API keys only for operator-created users -------------------------------------------------------------

def test_a_user_who_signed_in_by_themselves_gets_no_api_key(clients):
    signed_in = _user("firebase-uid")
    ensure_user(clients.db, signed_in)  # what the front door does the first time a verified ID token is seen
    with pytest.raises(InvalidInputError, match="only for users an operator creates"):
        create_api_key(clients.db, signed_in)
    keys = clients.db.collection(layout.API_KEYS).where("user_id", "==", signed_in).get()
    assert list(keys) == []
    operator_made = _user("operator")
    assert create_api_key(clients.db, operator_made).startswith("vk_")


def test_the_operators_key_command_creates_a_key_the_front_door_accepts_and_revokes_it(pipeline):
    user = _user("operator-cli")
    made = subprocess.run([sys.executable, "-m", "shared.auth", "create-key", "--user", user, "--plan", "pro"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    key = made.stdout.strip().splitlines()[-1]  # after the JSON log line
    me = pipeline.api("GET", "/me", headers={"X-API-Key": key})
    assert me.status_code == 200, me.text
    assert (me.json()["user_id"], me.json()["quotas"]["plan"]["name"]) == (user, "pro")
    key_id = key.removeprefix("vk_").split("_", 1)[0]
    revoked = subprocess.run([sys.executable, "-m", "shared.auth", "revoke-key", key_id], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"revoked {key_id}"), revoked.stderr
    assert pipeline.api("GET", "/me", headers={"X-API-Key": key}).status_code == 401
    unknown = subprocess.run([sys.executable, "-m", "shared.auth", "revoke-key", "nosuchkey"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1 and "no key nosuchkey" in unknown.stderr


def test_no_code_behind_an_http_route_can_mint_a_key():
    callers = sorted(str(p.relative_to(ROOT)) for folder in ("shared", "infra")
                     for p in (ROOT / folder).rglob("*.py")
                     if "create_api_key(" in p.read_text() and "def create_api_key" not in p.read_text())
    assert callers == ["infra/local/demo.py", "shared/auth.py"], "only the operator's CLI and the local demo"
    served = [*ROOT.glob("agent-*/main.py"), *(ROOT / "shared").rglob("*.py")]
    importers = [p for p in served if any(line in p.read_text() for line in ("from shared import auth",
                                                                              "import shared.auth"))]
    assert not importers, "the operator's key command is imported by no agent and no shared module"
