"""Live smoke kit: the smallest real sequence against Google, through the code we deploy (open issue 18).

    make smoke-live MODE=gemini_api|vertex [CONFIRM=1]
    .venv/bin/python -m tools.smoke_live --mode gemini_api [--tier fast|standard] [--base-url URL] [--confirm]

Prints the expected cost first (seconds x the model's price + tokens + one image, from shared.pricing), then the
plan. Runs only when the mode's credentials are present (Gemini API: GEMINI_API_KEY; Vertex AI: ADC,
GOOGLE_CLOUD_PROJECT, a location and a gs:// output prefix) and CONFIRM=1 is given; otherwise it says what is
missing and exits 0 having called nothing. A run prints each step's result and latency and records every raw
response, scrubbed, under tests/fixtures/live/<date>-<mode>/ (tests/unit/tools/test_recorded_shapes.py replays
them). `--base-url` (or GENAI_BASE_URL) points the whole kit at the local simulator.

    plan      steps, models, expected and measured cost, what a run needs
    runner    the run: production client + timeout, writer, image call, Veo submit/poll/download
    recorder  the httpx hook that keeps every exchange
    redact    secrets out, base64 media cut short
"""
