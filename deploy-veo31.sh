#!/usr/bin/env bash
# Deploy the Veo 3.1 video pipeline to Google Cloud: APIs, service identities, service accounts (one per
# agent, the scheduler's, the build account), bucket, Firestore, secret, Pub/Sub, the six Cloud Functions
# (2nd gen), scheduler, monitoring and budget. `--verify` checks a deployed environment.
# Idempotent: every resource is described first, then created or updated. See docs/operations.md, whose
# "Sources" section lists the Google Cloud documentation each step relies on.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# --------------------------------------------------------------------------------------------------
# Command runner: real runs, --dry-run printing, idempotency helpers.
#
# In --dry-run mode every gcloud command is printed on fd 3 (the script's stdout), one per line,
# shell-quoted, and nothing is run. Probes (`exists`) print their describe command and answer
# according to DEPLOY_DRY_RUN_ASSUME: "missing" (default: the plan of a first deployment) or
# "present" (the plan of a re-run, which takes the update branches). Progress goes to stderr.
DRY_RUN="${DRY_RUN:-0}"
DEPLOY_DRY_RUN_ASSUME="${DEPLOY_DRY_RUN_ASSUME:-missing}"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Quote one argument so that a POSIX shell (and Python's shlex) reads it back unchanged.
quote_arg() {
  local arg="$1"
  if [[ "$arg" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    printf '%s' "$arg"
  else
    printf "'%s'" "${arg//\'/\'\\\'\'}"
  fi
}

# The command as one shell-quoted line.
format_cmd() {
  local out="" arg
  for arg in "$@"; do
    out+="${out:+ }$(quote_arg "$arg")"
  done
  printf '%s' "$out"
}

print_cmd() { printf '%s\n' "$(format_cmd "$@")" >&3; }

# Run a command (or print it with --dry-run).
run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    return 0
  fi
  printf '+ %s\n' "$(format_cmd "$@")" >&2
  "$@"
}

# Retry a command a few times: IAM is eventually consistent (a new service account can be
# "not found" for some seconds after its creation).
run_retrying() {
  local attempt
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    return 0
  fi
  for attempt in 1 2 3 4 5; do
    if run "$@" >/dev/null; then
      return 0
    fi
    warn "attempt $attempt failed; retrying in $((attempt * 5)) s"
    sleep $((attempt * 5))
  done
  die "giving up: $(format_cmd "$@")"
}

# Run a create command and treat "already exists" as success (for resources with no describe).
run_allowing_exists() {
  local err
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    return 0
  fi
  printf '+ %s\n' "$(format_cmd "$@")" >&2
  if err="$("$@" 2>&1 >/dev/null)"; then
    return 0
  fi
  if grep -qiE 'ALREADY_EXISTS|already exists' <<<"$err"; then
    log "already exists: $(format_cmd "$@")"
    return 0
  fi
  printf '%s\n' "$err" >&2
  return 1
}

# Alert policies on a log-based metric created moments ago are refused for several minutes ("Cannot find
# metric(s) that match type ... could take up to 10 minutes to become available"; see
# github.com/hashicorp/terraform-provider-google/issues/11102). Retry that refusal only, a bounded number of
# times; give up with a clear message and let the caller go on (the budget and the summary still come).
ALERT_RETRY_ATTEMPTS="${DEPLOY_ALERT_RETRY_ATTEMPTS:-12}"
ALERT_RETRY_SECONDS="${DEPLOY_ALERT_RETRY_SECONDS:-60}"
DEFERRED=()
run_retrying_new_metric() {
  local what="$1" attempt err
  shift
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    return 0
  fi
  for ((attempt = 1; attempt <= ALERT_RETRY_ATTEMPTS; attempt++)); do
    printf '+ %s\n' "$(format_cmd "$@")" >&2
    if err="$("$@" 2>&1 >/dev/null)"; then
      return 0
    fi
    if ! grep -qiE 'Cannot find metric|could take up to 10 minutes|metric referenced by the provided filter is unknown' \
        <<<"$err"; then
      printf '%s\n' "$err" >&2
      warn "$what: refused (not a new-metric delay); not retried"
      DEFERRED+=("$what")
      return 1
    fi
    if ((attempt < ALERT_RETRY_ATTEMPTS)); then
      log "$what: its log-based metric is not visible to alerting yet (attempt $attempt/$ALERT_RETRY_ATTEMPTS);" \
        "retrying in ${ALERT_RETRY_SECONDS} s"
      sleep "$ALERT_RETRY_SECONDS"
    fi
  done
  warn "$what: still refused after $ALERT_RETRY_ATTEMPTS attempts (new log-based metrics can take 10 minutes);" \
    "continuing without it: re-run this script in a few minutes to create it"
  DEFERRED+=("$what")
  return 1
}

# True when the describe/list command given succeeds (the resource exists).
exists() {
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    [[ "$DEPLOY_DRY_RUN_ASSUME" == present ]]
    return
  fi
  "$@" >/dev/null 2>&1
}

# Print the output of a lookup command; with --dry-run print the command and echo the placeholder.
capture() {
  local placeholder="$1"
  shift
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    printf '%s\n' "$placeholder"
    return 0
  fi
  "$@"
}

# Like capture, but a lookup that answers nothing in a dry run stays empty when assuming "missing".
capture_existing() {
  local placeholder="$1"
  shift
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    [[ "$DEPLOY_DRY_RUN_ASSUME" == present ]] && printf '%s\n' "$placeholder"
    return 0
  fi
  "$@"
}

# Run a command whose stdin is the value of the variable named $1 (the value is never printed).
run_with_secret_stdin() {
  local var="$1"
  shift
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
    return 0
  fi
  printf '+ %s  (value read from $%s)\n' "$(format_cmd "$@")" "$var" >&2
  printf '%s' "${!var}" | "$@" >/dev/null
}

# Read tab-separated rows printed by `python -m infra.deploy.spec` into the caller's array $1.
spec_rows() {
  local -n _rows="$1"
  shift
  mapfile -t _rows < <("$PYTHON" -m infra.deploy.spec "$@" || echo "__SPEC_FAILED__")
  if [[ " ${_rows[*]-} " == *"__SPEC_FAILED__"* ]]; then
    die "python -m infra.deploy.spec $* failed"
  fi
}

# --------------------------------------------------------------------------------------------------
# Service accounts (one per agent + the scheduler + the build account) and their least-privilege bindings
# (infra/gcp/iam/roles.json, read through `python -m infra.deploy.spec bindings`).
sa_email() { printf '%s@%s.iam.gserviceaccount.com' "$1" "$PROJECT"; }

# The service-account email of a principal (function name, e.g. agent-qa or agent-monitor-webhooks, or "scheduler").
principal_email() { sa_email "${ENV_NAME}-$1"; }

ensure_service_accounts() {
  local rows row principal sa_id
  log "service accounts"
  spec_rows rows principals --env "$ENV_NAME"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r principal sa_id <<<"$row"
    if ! exists gcloud iam service-accounts describe "$(sa_email "$sa_id")" --project="$PROJECT"; then
      run gcloud iam service-accounts create "$sa_id" --project="$PROJECT" \
        --display-name="Video pipeline ${ENV_NAME}: ${principal}"
    fi
  done
}

# Apply every binding of one kind (project, bucket, secret, topic, subscription, function).
apply_bindings() {
  local kind_wanted="$1" rows row principal kind target role member
  spec_rows rows bindings --env "$ENV_NAME" --genai-mode "$GENAI_MODE"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r principal kind target role <<<"$row"
    [[ "$kind" == "$kind_wanted" ]] || continue
    member="serviceAccount:$(principal_email "$principal")"
    case "$kind" in
      project)
        run_retrying gcloud projects add-iam-policy-binding "$PROJECT" --member="$member" --role="$role" \
          --condition=None --quiet ;;
      database)  # a project role limited by an IAM condition to this environment's Firestore database
        # https://cloud.google.com/firestore/docs/security/iam#iam_conditions
        run_retrying gcloud projects add-iam-policy-binding "$PROJECT" --member="$member" --role="$role" \
          --condition="^;^expression=$(database_condition);title=${ENV_NAME}-firestore-${FIRESTORE_DATABASE//[^a-z0-9-]/};description=Only the ${ENV_NAME} pipeline database" \
          --quiet ;;
      bucket)
        run_retrying gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" --project="$PROJECT" \
          --member="$member" --role="$role" ;;
      secret)
        [[ "$GENAI_MODE" == gemini_api ]] || continue
        run_retrying gcloud secrets add-iam-policy-binding "$GEMINI_SECRET" --project="$PROJECT" \
          --member="$member" --role="$role" ;;
      topic)
        run_retrying gcloud pubsub topics add-iam-policy-binding "$target" --project="$PROJECT" \
          --member="$member" --role="$role" ;;
      subscription)  # agent-monitor pulls the dead-letter subscription
        run_retrying gcloud pubsub subscriptions add-iam-policy-binding "$target" --project="$PROJECT" \
          --member="$member" --role="$role" ;;
      function)
        [[ "$role" == roles/run.invoker ]] || die "function bindings support roles/run.invoker only, not $role"
        run_retrying gcloud functions add-invoker-policy-binding "$target" --project="$PROJECT" \
          --region="$REGION" --member="$member" ;;
      self)  # a role on the agent's own service account (e.g. signBlob for V4 signed URLs)
        run_retrying gcloud iam service-accounts add-iam-policy-binding "$(principal_email "$principal")" \
          --project="$PROJECT" --member="$member" --role="$role" ;;
    esac
  done
}

# The IAM condition of the Firestore role: this database and nothing below another one.
database_condition() {
  local name="projects/$PROJECT/databases/$FIRESTORE_DATABASE"
  printf 'resource.name == "%s" || resource.name.startsWith("%s/")' "$name" "$name"
}

# Google-managed service agents. A project's Pub/Sub service agent may not exist yet on a fresh project: it is
# created before anything is granted to it. https://cloud.google.com/sdk/gcloud/reference/beta/services/identity/create
pubsub_service_agent() { printf 'service-%s@gcp-sa-pubsub.iam.gserviceaccount.com' "$PROJECT_NUMBER"; }
vertex_service_agent() { printf 'service-%s@gcp-sa-aiplatform.iam.gserviceaccount.com' "$PROJECT_NUMBER"; }

ensure_service_identities() {
  log "service identities (Pub/Sub$([[ "$GENAI_MODE" != vertex ]] || printf ', Vertex AI'))"
  run_retrying gcloud beta services identity create --service=pubsub.googleapis.com --project="$PROJECT"
  if [[ "$GENAI_MODE" == vertex ]]; then
    run_retrying gcloud beta services identity create --service=aiplatform.googleapis.com --project="$PROJECT"
  fi
}

# The Pub/Sub service agent mints the OIDC tokens of push deliveries (needed where the agent was enabled on
# or before April 8, 2021: https://cloud.google.com/eventarc/standard/docs/functions/roles-permissions).
# Scoped: token creator on each push (trigger) service account only, never project-wide.
grant_pubsub_token_creator() {
  local rows row agent kind
  spec_rows rows functions --env "$ENV_NAME"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r agent _ _ kind _ <<<"$row"
    [[ "$kind" == event ]] || continue
    run_retrying gcloud iam service-accounts add-iam-policy-binding "$(principal_email "$agent")" \
      --project="$PROJECT" --member="serviceAccount:$(pubsub_service_agent)" \
      --role=roles/iam.serviceAccountTokenCreator
  done
}

# Vertex mode: Veo (run by the Vertex AI service agent) writes each block under the bucket (storageUri) and
# reads the previous block back by gs:// URI to extend it (shared/video/veo.py build_request): create and read,
# never overwrite nor delete. https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/veo-video-generation
# https://cloud.google.com/vertex-ai/docs/general/access-control#service-agents
grant_vertex_service_agent() {
  local role
  [[ "$GENAI_MODE" == vertex ]] || return 0
  for role in roles/storage.objectCreator roles/storage.objectViewer; do
    run_retrying gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" --project="$PROJECT" \
      --member="serviceAccount:$(vertex_service_agent)" --role="$role"
  done
}

# --------------------------------------------------------------------------------------------------
# The private media bucket (uniform access, public access prevention, lifecycle rules). The lifecycle's
# Delete rule lists every intermediate per-job prefix of shared/core/layout.py (INTERMEDIATE_JOB_FOLDERS), rendered
# by `python -m infra.deploy.spec lifecycle` with the ages of infra/gcp/lifecycle.json.
# No CDN: files are delivered as V4 signed URLs of the bucket itself (see docs/operations.md, "Cloud CDN").
ensure_bucket() {
  local lifecycle="$WORK_DIR/lifecycle.json" rows
  spec_rows rows lifecycle --env "$ENV_NAME" --out "$lifecycle"
  log "bucket gs://$BUCKET (expiring per-job prefixes: ${rows[0]#*$'\t'})"
  if exists gcloud storage buckets describe "gs://$BUCKET" --project="$PROJECT"; then
    run gcloud storage buckets update "gs://$BUCKET" --project="$PROJECT" --uniform-bucket-level-access \
      --public-access-prevention --lifecycle-file="$lifecycle" --update-labels="$LABELS"
  else
    run gcloud storage buckets create "gs://$BUCKET" --project="$PROJECT" --location="$REGION" \
      --default-storage-class=STANDARD --uniform-bucket-level-access --public-access-prevention \
      --lifecycle-file="$lifecycle"
    run gcloud storage buckets update "gs://$BUCKET" --project="$PROJECT" --update-labels="$LABELS"
  fi
}

# --------------------------------------------------------------------------------------------------
# Firestore database + composite indexes (infra/gcp/firestore.indexes.json) and the
# GEMINI_API_KEY secret in Secret Manager.
ensure_firestore() {
  local rows row args protection=()
  log "Firestore database $FIRESTORE_DATABASE ($FIRESTORE_LOCATION)"
  [[ "$ENV_NAME" == prod ]] && protection=(--delete-protection)
  if ! exists gcloud firestore databases describe --project="$PROJECT" --database="$FIRESTORE_DATABASE"; then
    run gcloud firestore databases create --project="$PROJECT" --database="$FIRESTORE_DATABASE" \
      --location="$FIRESTORE_LOCATION" --type=firestore-native --enable-pitr "${protection[@]}"
  fi
  # Backups: point-in-time recovery keeps 7 days of versions (restore: docs/operations.md "Backups"); setting
  # it on an existing database is a no-op: https://cloud.google.com/sdk/gcloud/reference/firestore/databases/update
  run gcloud firestore databases update --project="$PROJECT" --database="$FIRESTORE_DATABASE" --enable-pitr --async
  spec_rows rows indexes --env "$ENV_NAME"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r -a args <<<"$row"
    # No describe-by-fields exists for composite indexes: creating an existing one is refused
    # with ALREADY_EXISTS, which counts as success.
    run_allowing_exists gcloud firestore indexes composite create --project="$PROJECT" \
      --database="$FIRESTORE_DATABASE" "${args[@]}" --async
  done
  # Cached scripts carry `expires_at` (SCRIPT_CACHE_DAYS); TTL deletes them (setting it again is a no-op).
  run gcloud firestore fields ttls update expires_at --project="$PROJECT" --database="$FIRESTORE_DATABASE" \
    --collection-group=script_cache --enable-ttl --async
  # Idempotency keys of POST /videos carry `expires_at` (24 h) too.
  run gcloud firestore fields ttls update expires_at --project="$PROJECT" --database="$FIRESTORE_DATABASE" \
    --collection-group=idempotency_keys --enable-ttl --async
  # Only the backend uses Firestore (through IAM); the rules deny every client SDK request
  # (infra/gcp/firestore.rules). `gcloud firestore` has no rules command; this releases the file as a new
  # ruleset to the database's release (idempotent):
  # https://docs.cloud.google.com/sdk/gcloud/reference/alpha/firebase/security-rules/release
  # The command group is recent (reference updated 2026-10); older SDKs (e.g. 528) answer "Invalid choice".
  if [[ "$DRY_RUN" != 1 ]] && ! gcloud alpha firebase security-rules --help >/dev/null 2>&1; then
    die "this gcloud has no 'alpha firebase security-rules' (needed to release infra/gcp/firestore.rules):
run 'gcloud components update' (or install a current google-cloud-cli), then deploy again"
  fi
  run gcloud alpha firebase security-rules release "cloud.firestore/$FIRESTORE_DATABASE" \
    --source="$ROOT/infra/gcp/firestore.rules" --project="$PROJECT"
}

# Create the secret if missing; add a first version from $GEMINI_API_KEY when it has none.
ensure_gemini_secret() {
  local versions
  [[ "$GENAI_MODE" == gemini_api ]] || return 0
  log "secret $GEMINI_SECRET"
  if ! exists gcloud secrets describe "$GEMINI_SECRET" --project="$PROJECT"; then
    run gcloud secrets create "$GEMINI_SECRET" --project="$PROJECT" --replication-policy=automatic \
      --labels="$LABELS"
  fi
  versions="$(capture_existing "projects/$PROJECT/secrets/$GEMINI_SECRET/versions/1" \
    gcloud secrets versions list "$GEMINI_SECRET" --project="$PROJECT" --filter=state:ENABLED --limit=1 \
    --format='value(name)')"
  [[ -z "$versions" ]] || return 0
  if [[ -z "${GEMINI_API_KEY:-}" && "$DRY_RUN" != 1 ]]; then
    die "secret $GEMINI_SECRET has no enabled version: export GEMINI_API_KEY for the first deployment"
  fi
  run_with_secret_stdin GEMINI_API_KEY gcloud secrets versions add "$GEMINI_SECRET" --project="$PROJECT" \
    --data-file=-
}

# --------------------------------------------------------------------------------------------------
# Topics (names from shared/core/topics.py, prefixed by environment), the dead-letter topic with a pull
# subscription that keeps parked messages, and the dead-letter/retry policy of the subscriptions
# Eventarc creates for the event functions.
ensure_topics() {
  local rows row kind name dead_sub attempts
  log "Pub/Sub topics"
  spec_rows rows pubsub --env "$ENV_NAME"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r kind name dead_sub attempts <<<"$row"
    if exists gcloud pubsub topics describe "$name" --project="$PROJECT"; then
      run gcloud pubsub topics update "$name" --project="$PROJECT" --update-labels="$LABELS"
    else
      run gcloud pubsub topics create "$name" --project="$PROJECT" --labels="$LABELS"
    fi
    if [[ "$kind" == dead_letter ]]; then
      DEAD_LETTER_TOPIC="$name"
      MAX_DELIVERY_ATTEMPTS="$attempts"
      ensure_dead_letter_subscription "$name" "$dead_sub"
    fi
  done
}

ensure_dead_letter_subscription() {
  local topic="$1" sub="$2"
  if exists gcloud pubsub subscriptions describe "$sub" --project="$PROJECT"; then
    run gcloud pubsub subscriptions update "$sub" --project="$PROJECT" --message-retention-duration=7d \
      --expiration-period=never --update-labels="$LABELS"
  else
    run gcloud pubsub subscriptions create "$sub" --project="$PROJECT" --topic="$topic" --ack-deadline=60 \
      --message-retention-duration=7d --expiration-period=never --labels="$LABELS"
  fi
  run_retrying gcloud pubsub topics add-iam-policy-binding "$topic" --project="$PROJECT" \
    --member="serviceAccount:$(pubsub_service_agent)" --role=roles/pubsub.publisher
}

# The push subscription behind an event function's Eventarc trigger.
trigger_subscription() {
  local function_name="$1" trigger
  trigger="$(capture "projects/$PROJECT/locations/$REGION/triggers/${function_name}-DRYRUN" \
    gcloud functions describe "$function_name" --project="$PROJECT" --region="$REGION" \
    --format='value(eventTrigger.trigger)')"
  [[ -n "$trigger" ]] || die "function $function_name has no event trigger"
  capture "projects/$PROJECT/subscriptions/eventarc-${REGION}-${function_name}-DRYRUN-sub" \
    gcloud eventarc triggers describe "$trigger" --project="$PROJECT" --location="$REGION" \
    --format='value(transport.pubsub.subscription)'
}

# Retry with backoff, then park the message in the dead-letter topic after N attempts. The ack deadline is
# Pub/Sub's maximum, 600 s (https://cloud.google.com/pubsub/docs/lease-management), above the 540 s an event
# function may run (https://cloud.google.com/functions/docs/configuring/timeout): a message is not redelivered
# while its function still works on it.
configure_trigger_subscription() {
  local function_name="$1" subscription
  subscription="$(trigger_subscription "$function_name")"
  [[ -n "$subscription" ]] || die "no Pub/Sub subscription found for $function_name"
  run_retrying gcloud pubsub subscriptions update "$subscription" --project="$PROJECT" --ack-deadline=600 \
    --dead-letter-topic="projects/$PROJECT/topics/$DEAD_LETTER_TOPIC" \
    --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" --min-retry-delay=10s --max-retry-delay=600s
  run_retrying gcloud pubsub subscriptions add-iam-policy-binding "$subscription" --project="$PROJECT" \
    --member="serviceAccount:$(pubsub_service_agent)" --role=roles/pubsub.subscriber
}

# --------------------------------------------------------------------------------------------------
# Stage each agent (python -m infra.deploy.stage) and deploy it as a 2nd-gen Cloud Function:
# HTTP for the agents of shared.core.topics.HTTP_AGENTS, Pub/Sub-triggered (with retries) for the
# event routes. Then the Cloud Scheduler job that calls the monitor every 2 minutes with OIDC.
# The declarative specs are read (and checked against the documented limits) before anything is changed.
check_specs() {
  local rows
  log "checking infra/gcp against shared/core and the documented limits"
  spec_rows rows functions --env "$ENV_NAME"
  spec_rows rows bindings --env "$ENV_NAME" --genai-mode "$GENAI_MODE"
  spec_rows rows lifecycle --env "$ENV_NAME" --out "$WORK_DIR/lifecycle.json"
}

stage_functions() {
  log "staging the agents into $WORK_DIR/functions (requirements hash-pinned from infra/gcp/requirements.lock.json)"
  "$PYTHON" -m infra.deploy.stage --dest "$WORK_DIR/functions" >/dev/null || die "staging failed"
}

function_url() { printf 'https://%s-%s.cloudfunctions.net/%s' "$REGION" "$PROJECT" "$1"; }

# The deterministic run.app URL of a function's Cloud Run service; `gcloud run services describe` shows it
# first (status.url). https://cloud.google.com/run/docs/triggering/https-request#deterministic
run_url() { printf 'https://%s-%s.%s.run.app' "$1" "$PROJECT_NUMBER" "$REGION"; }

# Settings passed to every function when set in the deploy environment (else shared/core/config.py's
# production defaults apply). Each name of config.ENVIRONMENT_VARIABLES is either here, set by this script
# (function_env_vars, AGENT_SETTINGS, the Gemini key's secret) or local/test only:
# tests/unit/infra/test_deploy_settings.py holds that list, each with its reason, and fails on a new name.
PASSED_THROUGH=(VEO_RETRY_ATTEMPTS VEO_RETRY_MAX_WAIT_SECONDS VEO_ORPHAN_SECONDS VEO_POLL_SECONDS
  VEO_REQUESTS_PER_MINUTE VEO_MAX_CONCURRENT VEO_AUDIO_RETRIES VEO_OPERATION_DEADLINE_SECONDS
  GENAI_TIMEOUT_SECONDS GENAI_FILE_RETENTION_SECONDS MUSIC_VOLUME WHISPER_MODEL_DIR
  STUCK_AFTER_SECONDS MAX_MONITOR_RETRIES MONITOR_BACKOFF_SECONDS LEASE_GRACE_SECONDS VIDEO_LEASE_MARGIN_SECONDS
  ASSEMBLY_LEASE_SECONDS DEFAULT_PLAN RATE_LIMIT_WINDOW_SECONDS SIGNED_URL_SECONDS WEBHOOK_ATTEMPTS
  WEBHOOK_BACKOFF_SECONDS SCRIPT_CACHE_DAYS SSE_MAX_SECONDS SSE_STREAMS_PER_USER PROJECT_VEO_USD_PER_DAY)

# Settings of some agents only, passed when non-empty: the model ids where they are read (SCRIPT_MODEL:
# shared/script/writer.py; IMAGE_MODEL: shared/api/characters.py and shared/video/inputs.py; VEO_MODEL and
# VEO_FALLBACK_MODEL: shared/video/chain.py; TTS_MODEL and TTS_VOICE: shared/api/storyboard.py) and the front
# door's authentication and CORS (docs/auth.md).
declare -gA AGENT_SETTINGS=(
  [agent-script]="SCRIPT_MODEL IMAGE_MODEL TTS_MODEL TTS_VOICE AUTH_MODE AUTH_SERVICE_ACCOUNTS AUTH_AUDIENCE CORS_ORIGINS"
  [agent-video-veo31]="VEO_MODEL VEO_FALLBACK_MODEL IMAGE_MODEL"
)

# Environment variables of one function (shared/core/config.py reads them). GEMINI_API_KEY_REQUIRED tells
# the config whether this function has the key mounted (only the agents that call Gemini or Veo have it).
function_env_vars() {
  local agent="$1" budget_s="$2" key_required="$3"
  local vars=(
    "PIPELINE_ENV=production"
    "GOOGLE_CLOUD_PROJECT=$PROJECT"
    "PIPELINE_BUCKET=$BUCKET"
    "STATUS_BASE_URL=$STATUS_BASE_URL"
    "GENAI_MODE=$GENAI_MODE"
    "VERTEX_LOCATION=$VERTEX_LOCATION"
    "INVOCATION_BUDGET_SECONDS=$budget_s"
    "PIPELINE_TOPIC_PREFIX=${ENV_NAME}-"
    "FIRESTORE_DATABASE=$FIRESTORE_DATABASE"
    "LOG_EXECUTION_ID=true"
    "GEMINI_API_KEY_REQUIRED=$key_required"
  )
  local name names
  read -r -a names <<<"${AGENT_SETTINGS[$agent]:-}"
  for name in "${names[@]}" "${PASSED_THROUGH[@]}"; do
    [[ -z "${!name:-}" ]] || vars+=("$name=${!name}")
  done
  # gcloud's alternate delimiter: CORS_ORIGINS, AUTH_AUDIENCE, MONITOR_BACKOFF_SECONDS... hold commas.
  [[ "${vars[*]}" != *"|"* ]] || die "a setting of $agent contains '|' (the --set-env-vars delimiter): ${vars[*]}"
  local IFS='|'
  printf '^|^%s' "${vars[*]}"
}

# The audiences a service account's ID token may carry to reach the front door (docs/auth.md): both URLs of
# the function, STATUS_BASE_URL when it is another one, and any the operator adds (AUTH_AUDIENCE).
front_door_audiences() {
  local name="${ENV_NAME}-agent-script" audiences url
  audiences="$(function_url "$name"),$(run_url "$name")"
  for url in "$STATUS_BASE_URL" ${AUTH_AUDIENCE_EXTRA//,/ }; do
    [[ ",$audiences," == *",${url%/},"* ]] || audiences+=",${url%/}"
  done
  printf '%s' "$audiences"
}

DEPLOYED_FUNCTIONS=()
KEY_FUNCTIONS=()
SCHEDULER_URL=""
deploy_functions() {
  local rows row name gemini_key
  AUTH_AUDIENCE="$(front_door_audiences)"
  spec_rows rows functions --env "$ENV_NAME"
  for row in "${rows[@]}"; do
    deploy_function "$row"
    IFS=$'\t' read -r _ name _ _ _ _ _ _ _ _ _ _ _ gemini_key _ <<<"$row"
    DEPLOYED_FUNCTIONS+=("$name")
    [[ "$GENAI_MODE" == gemini_api && "$gemini_key" == 1 ]] && KEY_FUNCTIONS+=("$name")
  done
  return 0
}

# Functions come from `python -m infra.deploy.spec functions` in deploy order: consumers before producers
# (agent-monitor-webhooks, agent-qa, agent-assembler, agent-video-veo31, agent-monitor), the front door
# agent-script last, so no message is published to a topic whose consumer is not deployed yet. The last column
# is the agent folder staged as the source (agent-monitor-webhooks deploys agent-monitor's, as its own account).
deploy_function() {
  local agent name entry kind topic memory cpu timeout concurrency min_i max_i ingress budget_s gemini_key source sa
  local key_required=false
  IFS=$'\t' read -r agent name entry kind topic memory cpu timeout concurrency min_i max_i ingress budget_s \
    gemini_key source <<<"$1"
  sa="$(principal_email "$agent")"
  [[ "$GENAI_MODE" == gemini_api && "$gemini_key" == 1 ]] && key_required=true
  log "function $name ($kind, Gemini key: $key_required)"
  # Every build runs as the environment's build account: https://cloud.google.com/functions/docs/securing/build-custom-sa
  local args=(gcloud functions deploy "$name" --gen2 --project="$PROJECT" --region="$REGION"
    --runtime="$RUNTIME" --source="$WORK_DIR/functions/$source" --entry-point="$entry"
    --service-account="$sa" --memory="$memory" --cpu="$cpu" --timeout="${timeout}s"
    --concurrency="$concurrency" --min-instances="$min_i" --max-instances="$max_i"
    --ingress-settings="$ingress" --set-env-vars="$(function_env_vars "$agent" "$budget_s" "$key_required")"
    --build-service-account="$BUILD_SERVICE_ACCOUNT" --update-labels="$LABELS,agent=$agent" --quiet)
  # Least privilege: the key is mounted only where it is read (infra/gcp/iam/roles.json secret bindings).
  if [[ "$key_required" == true ]]; then
    args+=(--set-secrets="GEMINI_API_KEY=${GEMINI_SECRET}:latest")
  else
    args+=(--clear-secrets)
  fi
  # The front door is invokable by anyone at the IAM level: the application authenticates every request
  # (Firebase ID tokens, API keys, allow-listed service accounts; docs/auth.md). Where an organization policy
  # forbids allUsers, its invoker IAM check is disabled instead (--no-invoker-iam-check). The other functions
  # stay IAM-private (their invokers: infra/gcp/iam/roles.json function bindings).
  # https://cloud.google.com/run/docs/authenticating/public
  if [[ "$kind" == event ]]; then
    args+=(--trigger-topic="$topic" --retry --trigger-service-account="$sa")
  elif [[ "$agent" == agent-script && "$INVOKER_IAM_CHECK" == 1 ]]; then
    args+=(--trigger-http --allow-unauthenticated)
  else
    args+=(--trigger-http --no-allow-unauthenticated)
  fi
  run "${args[@]}"
  if [[ "$agent" == agent-script && "$INVOKER_IAM_CHECK" == 0 ]]; then
    run_retrying gcloud run services update "$name" --project="$PROJECT" --region="$REGION" --no-invoker-iam-check
  fi
}

configure_event_subscriptions() {
  local rows row name kind
  spec_rows rows functions --env "$ENV_NAME"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r _ name _ kind _ <<<"$row"
    [[ "$kind" == event ]] && configure_trigger_subscription "$name"
  done
  check_event_subscriptions
}

# Read the subscriptions back and check them (python -m infra.deploy.verify --only subscriptions): ack
# deadline, dead-letter policy, retry policy, push identity and the Pub/Sub service agent's grants.
check_event_subscriptions() {
  log "reading the event subscriptions back"
  if [[ "$DRY_RUN" == 1 ]]; then
    verify_cmd --only subscriptions --print-commands >&3
    return 0
  fi
  verify_cmd --only subscriptions >&2 || die "the event subscriptions are not as configured (lines above)"
}

verify_cmd() {
  "$PYTHON" -m infra.deploy.verify --project "$PROJECT" --region "$REGION" --env "$ENV_NAME" \
    --genai-mode "$GENAI_MODE" --bucket "$BUCKET" --firestore-database "$FIRESTORE_DATABASE" \
    ${PROJECT_NUMBER:+--project-number "$PROJECT_NUMBER"} "$@"
}

ensure_scheduler() {
  local job="${ENV_NAME}-monitor-tick" monitor="${ENV_NAME}-agent-monitor" uri sa verb
  log "Cloud Scheduler job $job (every 2 min)"
  # The job calls the monitor's run.app URL with an OIDC token for that same audience; the dry run prints the
  # deterministic URL the describe returns.
  uri="$(capture "$(run_url "$monitor")" gcloud run services describe "$monitor" --project="$PROJECT" \
    --region="$REGION" --format='value(status.url)')"
  [[ "$uri" == https://*.run.app ]] || die "unexpected URL of $monitor: '$uri'"
  sa="$(principal_email scheduler)"
  local common=(--project="$PROJECT" --location="$REGION" --schedule='*/2 * * * *' --time-zone=Etc/UTC
    --uri="$uri" --http-method=POST --message-body='{"source":"cloud-scheduler"}'
    --oidc-service-account-email="$sa" --oidc-token-audience="$uri" --attempt-deadline=300s)
  if exists gcloud scheduler jobs describe "$job" --project="$PROJECT" --location="$REGION"; then
    verb=update
    common+=(--update-headers=Content-Type=application/json)
  else
    verb=create
    common+=(--headers=Content-Type=application/json)
  fi
  run gcloud scheduler jobs "$verb" http "$job" "${common[@]}"
  SCHEDULER_URL="$uri"
}

# --------------------------------------------------------------------------------------------------
# Log-based metrics, the dashboard and alert policies (infra/gcp/monitoring/, rendered per
# environment by `python -m infra.deploy.spec render-monitoring`), and the billing budget.
ensure_monitoring() {
  local rows row kind name path id
  log "log-based metrics, dashboard, alert policies"
  spec_rows rows render-monitoring --env "$ENV_NAME" --project "$PROJECT" --out "$WORK_DIR/monitoring" \
    ${NOTIFICATION_CHANNELS:+--notification-channels "$NOTIFICATION_CHANNELS"}
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r kind name path <<<"$row"
    case "$kind" in
      metric) ensure_log_metric "$name" "$path" ;;
      dashboard)
        id="$(capture_existing "projects/$PROJECT/dashboards/DRYRUN" gcloud monitoring dashboards list \
          --project="$PROJECT" --filter="displayName=\"$name\"" --format='value(name)' --limit=1)"
        if [[ -n "$id" ]]; then
          run gcloud monitoring dashboards update "$id" --project="$PROJECT" --config-from-file="$path"
        else
          run gcloud monitoring dashboards create --project="$PROJECT" --config-from-file="$path"
        fi ;;
      alert)
        id="$(capture_existing "projects/$PROJECT/alertPolicies/DRYRUN" gcloud alpha monitoring policies list \
          --project="$PROJECT" --filter="displayName=\"$name\"" --format='value(name)' --limit=1)"
        if [[ -n "$id" ]]; then
          run_retrying_new_metric "alert policy '$name'" gcloud alpha monitoring policies update "$id" \
            --project="$PROJECT" --policy-from-file="$path" || true
        else
          run_retrying_new_metric "alert policy '$name'" gcloud alpha monitoring policies create \
            --project="$PROJECT" --policy-from-file="$path" || true
        fi ;;
    esac
  done
}

ensure_log_metric() {
  local name="$1" path="$2"
  if exists gcloud logging metrics describe "$name" --project="$PROJECT"; then
    run gcloud logging metrics update "$name" --project="$PROJECT" --config-from-file="$path"
  else
    run gcloud logging metrics create "$name" --project="$PROJECT" --config-from-file="$path"
  fi
}

# A monthly budget on this project with alerts at 50/75/90/100 % of the amount.
ensure_budget() {
  local display="video-pipeline-${ENV_NAME}-${PROJECT}" id thresholds=() channels=()
  [[ -n "$BUDGET_AMOUNT" ]] || return 0
  log "budget $display ($BUDGET_AMOUNT)"
  [[ -z "$NOTIFICATION_CHANNELS" ]] ||
    channels=(--notifications-rule-monitoring-notification-channels="$NOTIFICATION_CHANNELS")
  local percent
  for percent in 0.5 0.75 0.9 1.0; do
    thresholds+=("--threshold-rule=percent=$percent")
  done
  id="$(capture_existing "billingAccounts/$BILLING_ACCOUNT/budgets/DRYRUN" gcloud billing budgets list \
    --billing-account="$BILLING_ACCOUNT" --filter="displayName=\"$display\"" --format='value(name)')"
  if [[ -n "$id" ]]; then
    run gcloud billing budgets update "$id" --billing-account="$BILLING_ACCOUNT" --budget-amount="$BUDGET_AMOUNT" \
      --clear-threshold-rules "${thresholds[@]/--threshold-rule=/--add-threshold-rule=}" "${channels[@]}"
  else
    run gcloud billing budgets create --billing-account="$BILLING_ACCOUNT" --display-name="$display" \
      --budget-amount="$BUDGET_AMOUNT" --filter-projects="projects/$PROJECT" --calendar-period=month \
      "${thresholds[@]}" "${channels[@]}"
  fi
}

usage() {
  cat <<'USAGE'
Usage: ./deploy-veo31.sh --project P --region R [options]
       ./deploy-veo31.sh --project P --region R --verify [options]   check a deployed environment

Required (flag or environment variable):
  --project P              DEPLOY_PROJECT      Google Cloud project id
  --region R               DEPLOY_REGION       region of functions, bucket, scheduler (e.g. us-central1)
Options:
  --env dev|staging|prod   DEPLOY_ENV          name prefix of every resource (default: dev)
  --dry-run                DRY_RUN=1           print every gcloud command (one per line) instead of running it
  --verify                 DEPLOY_VERIFY=1     describe every resource and check it, one line per check
  --bucket B               DEPLOY_BUCKET       media bucket (default: <project>-<env>-media)
  --genai-mode MODE        GENAI_MODE          gemini_api (default; key in Secret Manager) or vertex
  --vertex-location L      VERTEX_LOCATION     default us-central1
  --firestore-location L   FIRESTORE_LOCATION  default: the region
  --firestore-database D   FIRESTORE_DATABASE  default: <env>-pipeline (one database per environment)
  --budget-amount N        BUDGET_AMOUNT       monthly budget (e.g. 500 or 500USD); needs --billing-account
  --billing-account A      BILLING_ACCOUNT     billing account id (XXXXXX-XXXXXX-XXXXXX)
  --notification-channels C NOTIFICATION_CHANNELS  comma-separated projects/P/notificationChannels/ID for alerts
  --build-service-account SA  BUILD_SERVICE_ACCOUNT  build account email (default: <env>-builder, created here)
  --status-base-url URL    STATUS_BASE_URL     default: the agent-script function URL
  --work-dir DIR           DEPLOY_WORK_DIR     keep staged sources and rendered files there
  -h, --help
Model ids (default: shared/core/config.py's; each passed only to the agents that read it):
  --script-model M         SCRIPT_MODEL        scripts (agent-script)
  --image-model M          IMAGE_MODEL         portraits and opening frames (agent-script, agent-video-veo31)
  --veo-model M            VEO_MODEL           Veo model (agent-video-veo31; the -001 id in vertex mode)
  --veo-fallback-model M   VEO_FALLBACK_MODEL  takes over when the primary stays exhausted (default: none)
The front door (agent-script) is invokable by anyone at the IAM level and authenticates each request itself:
Firebase ID tokens of this project, API keys, allow-listed service accounts (docs/auth.md).
  --auth-mode MODE         AUTH_MODE           both (default), id_token or api_key
  --auth-service-accounts E AUTH_SERVICE_ACCOUNTS  service-account e-mails whose ID tokens are accepted
                                               (repeatable / comma list)
  --cors-origins O         CORS_ORIGINS        browser origins, https://host[:port] (repeatable / comma list)
  --no-invoker-iam-check   DEPLOY_NO_INVOKER_IAM_CHECK=1  where an organization policy forbids allUsers: disable
                                               the front door's invoker IAM check instead of granting allUsers
AUTH_AUDIENCE is computed (the front door's cloudfunctions.net and run.app URLs, and STATUS_BASE_URL); set it
in the environment to add audiences.
USAGE
  printf 'Passed to every function when set (environment only; else config.py production defaults):\n'
  printf '%s \n' "${PASSED_THROUGH[*]}" | fold -s -w 100 | sed 's/^/  /; s/ *$//'
  cat <<'USAGE'
Secrets: GEMINI_API_KEY (environment only) is stored as the first version of <env>-gemini-api-key when
the secret has none; it is never printed. DEPLOY_DRY_RUN_ASSUME=present prints the re-run (update) plan.
USAGE
}

load_defaults() {
  PROJECT="${DEPLOY_PROJECT:-}"
  REGION="${DEPLOY_REGION:-}"
  ENV_NAME="${DEPLOY_ENV:-dev}"
  BUCKET="${DEPLOY_BUCKET:-}"
  GENAI_MODE="${GENAI_MODE:-gemini_api}"
  SCRIPT_MODEL="${SCRIPT_MODEL:-}"
  IMAGE_MODEL="${IMAGE_MODEL:-}"
  VEO_MODEL="${VEO_MODEL:-}"
  VEO_FALLBACK_MODEL="${VEO_FALLBACK_MODEL:-}"
  VERTEX_LOCATION="${VERTEX_LOCATION:-us-central1}"
  FIRESTORE_LOCATION="${FIRESTORE_LOCATION:-}"
  FIRESTORE_DATABASE="${FIRESTORE_DATABASE:-}"
  VERIFY="${DEPLOY_VERIFY:-0}"
  BUDGET_AMOUNT="${BUDGET_AMOUNT:-}"
  BILLING_ACCOUNT="${BILLING_ACCOUNT:-}"
  NOTIFICATION_CHANNELS="${NOTIFICATION_CHANNELS:-}"
  AUTH_MODE="${AUTH_MODE:-both}"
  AUTH_SERVICE_ACCOUNTS="${AUTH_SERVICE_ACCOUNTS:-}"
  AUTH_AUDIENCE_EXTRA="${AUTH_AUDIENCE:-}"
  AUTH_AUDIENCE=""
  CORS_ORIGINS="${CORS_ORIGINS:-}"
  INVOKER_IAM_CHECK=1
  [[ "${DEPLOY_NO_INVOKER_IAM_CHECK:-0}" == 0 ]] || INVOKER_IAM_CHECK=0
  BUILD_SERVICE_ACCOUNT="${BUILD_SERVICE_ACCOUNT:-}"
  STATUS_BASE_URL="${STATUS_BASE_URL:-}"
  WORK_DIR="${DEPLOY_WORK_DIR:-}"
}

# The value following a flag, or a clear error when it is missing.
flag_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value (see --help)"
  printf '%s' "$2"
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --project) PROJECT="$(flag_value "$@")"; shift ;;
      --region) REGION="$(flag_value "$@")"; shift ;;
      --env) ENV_NAME="$(flag_value "$@")"; shift ;;
      --dry-run) DRY_RUN=1 ;;
      --bucket) BUCKET="$(flag_value "$@")"; shift ;;
      --script-model) SCRIPT_MODEL="$(flag_value "$@")"; shift ;;
      --image-model) IMAGE_MODEL="$(flag_value "$@")"; shift ;;
      --veo-model) VEO_MODEL="$(flag_value "$@")"; shift ;;
      --veo-fallback-model) VEO_FALLBACK_MODEL="$(flag_value "$@")"; shift ;;
      --genai-mode) GENAI_MODE="$(flag_value "$@")"; shift ;;
      --vertex-location) VERTEX_LOCATION="$(flag_value "$@")"; shift ;;
      --firestore-location) FIRESTORE_LOCATION="$(flag_value "$@")"; shift ;;
      --firestore-database) FIRESTORE_DATABASE="$(flag_value "$@")"; shift ;;
      --verify) VERIFY=1 ;;
      --enable-cdn|--cdn-domain)
        die "$1: the Cloud CDN was removed (it served nothing); see docs/operations.md, 'Cloud CDN'" ;;
      --budget-amount) BUDGET_AMOUNT="$(flag_value "$@")"; shift ;;
      --billing-account) BILLING_ACCOUNT="$(flag_value "$@")"; shift ;;
      --notification-channels) NOTIFICATION_CHANNELS="$(flag_value "$@")"; shift ;;
      --auth-mode) AUTH_MODE="$(flag_value "$@")"; shift ;;
      --auth-service-accounts|--auth-service-account)
        AUTH_SERVICE_ACCOUNTS="${AUTH_SERVICE_ACCOUNTS:+$AUTH_SERVICE_ACCOUNTS,}$(flag_value "$@")"; shift ;;
      --cors-origins|--cors-origin) CORS_ORIGINS="${CORS_ORIGINS:+$CORS_ORIGINS,}$(flag_value "$@")"; shift ;;
      --no-invoker-iam-check) INVOKER_IAM_CHECK=0 ;;
      --allow-unauthenticated-script) warn "$1: the front door is always invokable by allUsers now (docs/auth.md)" ;;
      --script-invoker) die "$1 was removed: the front door authenticates callers itself; allow a service" \
        "account with --auth-service-accounts, users with Firebase or API keys (docs/auth.md)" ;;
      --build-service-account) BUILD_SERVICE_ACCOUNT="$(flag_value "$@")"; shift ;;
      --status-base-url) STATUS_BASE_URL="$(flag_value "$@")"; shift ;;
      --work-dir) WORK_DIR="$(flag_value "$@")"; shift ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
  done
}

validate_settings() {
  [[ -n "$PROJECT" ]] || die "missing --project (or DEPLOY_PROJECT)"
  [[ -n "$REGION" ]] || die "missing --region (or DEPLOY_REGION)"
  [[ "$PROJECT" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "invalid project id: $PROJECT"
  [[ "$REGION" =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "invalid region: $REGION"
  [[ "$ENV_NAME" =~ ^(dev|staging|prod)$ ]] || die "--env must be dev, staging or prod, not $ENV_NAME"
  [[ "$GENAI_MODE" =~ ^(gemini_api|vertex)$ ]] || die "--genai-mode must be gemini_api or vertex, not $GENAI_MODE"
  [[ "$DEPLOY_DRY_RUN_ASSUME" =~ ^(missing|present)$ ]] || die "DEPLOY_DRY_RUN_ASSUME must be missing or present"
  if [[ -n "$BUDGET_AMOUNT" || -n "$BILLING_ACCOUNT" ]]; then
    [[ -n "$BUDGET_AMOUNT" && -n "$BILLING_ACCOUNT" ]] || die "--budget-amount and --billing-account go together"
    [[ "$BUDGET_AMOUNT" =~ ^[0-9]+(\.[0-9]+)?([A-Z]{3})?$ ]] || die "invalid --budget-amount: $BUDGET_AMOUNT"
  fi
  [[ "${ENABLE_CDN:-0}" == 0 ]] || die "ENABLE_CDN: the Cloud CDN was removed; see docs/operations.md, 'Cloud CDN'"
  [[ -z "${SCRIPT_INVOKERS:-}" ]] || die "SCRIPT_INVOKERS was removed: the front door authenticates callers itself;" \
    "use AUTH_SERVICE_ACCOUNTS for service accounts (docs/auth.md)"
  validate_front_door
  [[ -z "$FIRESTORE_DATABASE" || "$FIRESTORE_DATABASE" == "(default)" ||
    "$FIRESTORE_DATABASE" =~ ^[a-z][a-z0-9-]{2,61}[a-z0-9]$ ]] ||
    die "invalid --firestore-database: $FIRESTORE_DATABASE (4-63 of a-z 0-9 -, starting with a letter)"
}

# The front door's application-level authentication settings (shared/core/config.py would refuse bad ones at
# start-up, after the deploy; refuse them here first).
validate_front_door() {
  local item
  [[ "$AUTH_MODE" =~ ^(api_key|id_token|both)$ ]] || die "--auth-mode must be api_key, id_token or both, not $AUTH_MODE"
  for item in ${AUTH_SERVICE_ACCOUNTS//,/ }; do
    [[ "$item" =~ ^[^@[:space:]]+@[^@[:space:]]+$ ]] || die "--auth-service-accounts: not an e-mail address: $item"
  done
  if [[ -n "$AUTH_SERVICE_ACCOUNTS" && "$AUTH_MODE" == api_key ]]; then
    die "--auth-service-accounts needs --auth-mode id_token or both (api_key accepts API keys only)"
  fi
  for item in ${CORS_ORIGINS//,/ }; do
    [[ "$item" =~ ^https?://[^/[:space:]]+$ ]] || die "--cors-origins: not an origin (scheme://host[:port]): $item"
  done
}

# Model ids left unset take shared/core/config.py's defaults (python -m infra.deploy.spec model-defaults), so the
# plan shows what each function gets.
resolve_models() {
  local rows row name value
  spec_rows rows model-defaults --env "$ENV_NAME" --genai-mode "$GENAI_MODE"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r name value <<<"$row"
    [[ -n "${!name}" ]] || printf -v "$name" '%s' "$value"
  done
}

derive_settings() {
  BUCKET="${BUCKET:-${PROJECT}-${ENV_NAME}-media}"
  # One Firestore database per environment: https://cloud.google.com/firestore/docs/manage-databases
  FIRESTORE_DATABASE="${FIRESTORE_DATABASE:-${ENV_NAME}-pipeline}"
  FIRESTORE_LOCATION="${FIRESTORE_LOCATION:-$REGION}"
  resolve_models
  STATUS_BASE_URL="${STATUS_BASE_URL:-$(function_url "${ENV_NAME}-agent-script")}"
  GEMINI_SECRET="${ENV_NAME}-gemini-api-key"
  LABELS="pipeline=veo31,env=${ENV_NAME}"
  RUNTIME="$("$PYTHON" -c 'import json; print(json.load(open("infra/gcp/functions.json"))["runtime"])')"
  PROJECT_NUMBER="${DEPLOY_PROJECT_NUMBER:-}"
  if [[ -z "$BUILD_SERVICE_ACCOUNT" ]]; then
    BUILD_SERVICE_ACCOUNT="projects/$PROJECT/serviceAccounts/$(principal_email builder)"
  elif [[ "$BUILD_SERVICE_ACCOUNT" != projects/* ]]; then
    BUILD_SERVICE_ACCOUNT="projects/$PROJECT/serviceAccounts/$BUILD_SERVICE_ACCOUNT"
  fi
}

prepare_work_dir() {
  if [[ -z "$WORK_DIR" ]]; then
    WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/deploy-veo31.XXXXXX")"
    trap 'rm -rf "$WORK_DIR"' EXIT
  fi
  mkdir -p "$WORK_DIR"
}

pick_python() {
  PYTHON="${DEPLOY_PYTHON:-}"
  if [[ -z "$PYTHON" ]]; then
    [[ -x "$ROOT/.venv/bin/python" ]] && PYTHON="$ROOT/.venv/bin/python" || PYTHON=python3
  fi
  command -v "$PYTHON" >/dev/null || die "python not found ($PYTHON); set DEPLOY_PYTHON"
}

required_apis() {
  # iamcredentials: the functions sign V4 URLs through IAM signBlob (no key file on Cloud Run):
  # https://cloud.google.com/storage/docs/access-control/signing-urls-with-helpers
  local apis=(cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com
    artifactregistry.googleapis.com eventarc.googleapis.com pubsub.googleapis.com firestore.googleapis.com
    storage.googleapis.com cloudscheduler.googleapis.com secretmanager.googleapis.com logging.googleapis.com
    monitoring.googleapis.com iam.googleapis.com iamcredentials.googleapis.com cloudresourcemanager.googleapis.com
    firebaserules.googleapis.com)
  [[ "$GENAI_MODE" == vertex ]] && apis+=(aiplatform.googleapis.com) || apis+=(generativelanguage.googleapis.com)
  [[ -n "$BUDGET_AMOUNT" ]] && apis+=(billingbudgets.googleapis.com)
  printf '%s\n' "${apis[@]}"
}

enable_apis() {
  local apis
  log "enabling APIs"
  mapfile -t apis < <(required_apis)
  run gcloud services enable "${apis[@]}" --project="$PROJECT"
}

lookup_project_number() {
  [[ -n "$PROJECT_NUMBER" ]] && return 0
  PROJECT_NUMBER="$(capture PROJECT_NUMBER gcloud projects describe "$PROJECT" --format='value(projectNumber)')"
  [[ -n "$PROJECT_NUMBER" ]] || die "cannot read the project number of $PROJECT"
}

# What the run did, and what it could not do (deferred alert policies make the exit status 2).
print_summary() {
  local verb=deployed
  [[ "$DRY_RUN" == 1 ]] && verb="planned (dry run: nothing was changed)"
  log "environment $ENV_NAME $verb in $PROJECT ($REGION):"
  log "  functions (in deploy order): ${DEPLOYED_FUNCTIONS[*]}"
  log "  builds run as ${BUILD_SERVICE_ACCOUNT##*/}; Gemini key mounted in: ${KEY_FUNCTIONS[*]:-none}"
  log "  Firestore database $FIRESTORE_DATABASE (agents' datastore.user limited to it); bucket gs://$BUCKET"
  log "  monitor called every 2 min at $SCHEDULER_URL; front door: $STATUS_BASE_URL"
  local public="allUsers invoker"
  [[ "${INVOKER_IAM_CHECK:-1}" == 1 ]] || public="invoker IAM check disabled"
  log "  front door invokable by anyone at the IAM level ($public); the app authenticates:" \
    "AUTH_MODE=${AUTH_MODE:-both}, service accounts: ${AUTH_SERVICE_ACCOUNTS:-none}," \
    "CORS origins: ${CORS_ORIGINS:-none} (docs/auth.md)"
  log "  models: script ${SCRIPT_MODEL:-default}, image ${IMAGE_MODEL:-default}, Veo ${VEO_MODEL:-default}" \
    "(fallback: ${VEO_FALLBACK_MODEL:-none})"
  log "  dashboard '$ENV_NAME video pipeline'${BUDGET_AMOUNT:+; budget $BUDGET_AMOUNT}"
  if ((${#DEFERRED[@]})); then
    warn "not done: ${DEFERRED[*]}; re-run this script in a few minutes to finish"
    return 2
  fi
  [[ "$DRY_RUN" == 1 ]] || log "check it: ./deploy-veo31.sh --project $PROJECT --region $REGION --env $ENV_NAME --verify"
}

# --verify: describe every resource and check what matters (python -m infra.deploy.verify), one line each.
verify_deployment() {
  log "verifying environment $ENV_NAME in $PROJECT ($REGION)"
  if [[ "$DRY_RUN" == 1 ]]; then
    verify_cmd --print-commands
    return 0
  fi
  verify_cmd
}

main() {
  cd "$ROOT"
  load_defaults
  parse_args "$@"
  validate_settings
  pick_python
  derive_settings
  [[ "$DRY_RUN" == 1 ]] || command -v gcloud >/dev/null || die "gcloud not found (install the Google Cloud CLI)"
  exec 3>&1
  if [[ "$VERIFY" == 1 ]]; then
    verify_deployment
    return
  fi
  prepare_work_dir
  check_specs
  stage_functions
  enable_apis
  lookup_project_number
  ensure_service_identities
  ensure_service_accounts
  ensure_bucket
  ensure_firestore
  ensure_gemini_secret
  ensure_topics
  log "IAM bindings (project, Firestore database, bucket, secret, topics, dead-letter subscription, service agents)"
  apply_bindings project
  apply_bindings database
  apply_bindings bucket
  apply_bindings secret
  apply_bindings topic
  apply_bindings subscription
  apply_bindings self
  grant_pubsub_token_creator
  grant_vertex_service_agent
  deploy_functions
  log "IAM bindings (function invokers)"
  apply_bindings function
  configure_event_subscriptions
  ensure_scheduler
  ensure_monitoring
  ensure_budget
  print_summary
}

# Sourcing the script (tests) defines the functions without running anything.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
