"""Alert policies on a just-created log-based metric are refused for minutes: the script retries that refusal
(bounded, saying so), and when it gives up the budget and everything after are still created.

The script is sourced (it runs nothing when sourced) and `gcloud` is a shell function that answers like
the real API: "Cannot find metric(s) ... could take up to 10 minutes to become available"
(github.com/hashicorp/terraform-provider-google/issues/11102).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from infra.deploy.dryrun import REPO_ROOT

REFUSAL = ('ERROR: (gcloud.alpha.monitoring.policies.create) NOT_FOUND: Cannot find metric(s) that match type = '
           '"logging.googleapis.com/user/dev_step_duration". If a metric was created recently, it could take up to '
           '10 minutes to become available. Please try again soon.')


def run_sourced(body: str, tmp_path: Path, attempts: int = 3) -> subprocess.CompletedProcess[str]:
    script = f"""
export DEPLOY_ALERT_RETRY_ATTEMPTS={attempts} DEPLOY_ALERT_RETRY_SECONDS=0
source {REPO_ROOT / 'deploy-veo31.sh'}
cd {REPO_ROOT}
CALLS={tmp_path / 'calls.log'}
: >"$CALLS"
gcloud() {{
  printf '%s\\n' "$*" >>"$CALLS"
  if [[ "$1 $2 $3 $4" == "alpha monitoring policies create" ]]; then
    local n; n=$(grep -c 'policies create' "$CALLS")
    if (( n <= ${{ALERT_FAILS:-0}} )); then printf '%s\\n' '{REFUSAL}' >&2; return 1; fi
  fi
  if [[ "$1 $2 $3 $4" == "alpha monitoring policies update" && -n "${{UPDATE_BROKEN:-}}" ]]; then
    echo "ERROR: INVALID_ARGUMENT: bad filter" >&2; return 1
  fi
  return 0
}}
exec 3>&1
DRY_RUN=0
{body}
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_a_new_metric_refusal_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    result = run_sourced("""ALERT_FAILS=2
run_retrying_new_metric "alert policy 'x'" gcloud alpha monitoring policies create --project=p --policy-from-file=f
echo "rc=$? deferred=${#DEFERRED[@]}" """, tmp_path)
    assert "rc=0 deferred=0" in result.stdout, result.stderr
    assert (tmp_path / "calls.log").read_text().count("policies create") == 3
    assert "not visible to alerting yet (attempt 1/3)" in result.stderr


def test_giving_up_is_bounded_and_clear(tmp_path: Path) -> None:
    result = run_sourced("""ALERT_FAILS=99
run_retrying_new_metric "alert policy 'x'" gcloud alpha monitoring policies create --project=p --policy-from-file=f \
  || echo "rc=$? deferred=${DEFERRED[*]}" """, tmp_path)
    assert "rc=1 deferred=alert policy 'x'" in result.stdout, result.stderr
    assert (tmp_path / "calls.log").read_text().count("policies create") == 3
    assert "still refused after 3 attempts" in result.stderr and "re-run this script" in result.stderr


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    result = run_sourced("""UPDATE_BROKEN=1
run_retrying_new_metric "alert policy 'x'" gcloud alpha monitoring policies update id --project=p \
  || echo "rc=$?" """, tmp_path)
    assert "rc=1" in result.stdout
    assert (tmp_path / "calls.log").read_text().count("policies update") == 1
    assert "bad filter" in result.stderr and "not retried" in result.stderr


def test_the_budget_is_still_created_and_the_run_reports_what_is_missing(tmp_path: Path) -> None:
    result = run_sourced(f"""ALERT_FAILS=99
PYTHON={sys.executable} PROJECT=p-test ENV_NAME=dev REGION=europe-west1 NOTIFICATION_CHANNELS=""
WORK_DIR={tmp_path} BUDGET_AMOUNT=100 BILLING_ACCOUNT=012345-6789AB-CDEF01 BUCKET=b FIRESTORE_DATABASE=dev-pipeline
BUILD_SERVICE_ACCOUNT=projects/p-test/serviceAccounts/dev-builder@p-test.iam.gserviceaccount.com
STATUS_BASE_URL=https://x SCHEDULER_URL=https://y GENAI_MODE=gemini_api
ensure_monitoring
ensure_budget
print_summary || echo "summary=$?" """, tmp_path)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    creates = [i for i, c in enumerate(calls) if "policies create" in c]
    [budget] = [i for i, c in enumerate(calls) if c.startswith("billing budgets create")]
    assert creates and budget > max(creates), "the budget comes after the refused alert policies"
    assert "summary=2" in result.stdout, result.stderr
    assert "not done: alert policy" in result.stderr
