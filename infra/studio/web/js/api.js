// The product API (shared/api/openapi.yaml): settings, JSON calls, the live progress stream.

const STORE = "studio.settings";

/** API URL and key: saved settings win over config.js (written by the local cloud, or by hand). */
export function settings() {
  const base = window.STUDIO_CONFIG || {};
  const saved = JSON.parse(localStorage.getItem(STORE) || "{}");
  return { apiUrl: saved.apiUrl || base.apiUrl || "", apiKey: saved.apiKey || base.apiKey || "",
           storageUrl: base.storageUrl || "" };
}

export function saveSettings(apiUrl, apiKey) {
  localStorage.setItem(STORE, JSON.stringify({ apiUrl: apiUrl.trim(), apiKey: apiKey.trim() }));
}

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    Object.assign(this, { status, code, field });
  }
}

function headers(extra = {}) {
  const { apiKey } = settings();
  return { ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}), ...extra };
}

async function failure(response) {
  const body = await response.json().catch(() => ({}));
  const error = body.error || {};
  return new ApiError(response.status, error.code || "http_error",
                      error.message || `HTTP ${response.status}`, error.field);
}

/** One JSON call (`extra`: more headers, e.g. Idempotency-Key); throws ApiError with the API's code and message. */
export async function api(method, path, body, extra = {}) {
  const { apiUrl } = settings();
  if (!apiUrl) throw new ApiError(0, "no_api", "No API configured: open Settings.");
  let response;
  try {
    response = await fetch(apiUrl.replace(/\/$/, "") + path, {
      method, headers: headers({ ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...extra }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", `Cannot reach the API at ${apiUrl}.`);
  }
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

function* sseEvents(buffer) {
  for (const block of buffer) {
    const event = { event: "message", data: "", id: null };
    for (const line of block.split("\n")) {
      const [name, ...rest] = line.split(":");
      const value = rest.join(":").replace(/^ /, "");
      if (name === "event") event.event = value;
      else if (name === "data") event.data += value;
      else if (name === "id") event.id = value;
    }
    if (event.data) yield { ...event, data: JSON.parse(event.data) };
  }
}

const MAX_BROKEN = 5; // broken connections in a row; a stream the server ends at its time limit is resumed

/** The `retry:` hint (ms) of a block of SSE lines, or null. */
function retryHint(blocks) {
  let hint = null;
  for (const block of blocks) {
    for (const line of block.split("\n")) if (/^retry: ?\d+$/.test(line)) hint = Number(line.replace(/^retry: ?/, ""));
  }
  return hint;
}

/** Follow GET /videos/{id}/events (fetch: EventSource cannot send the key) until `end`; its data. The server
 * ends each stream before its time limit (SSE_MAX_SECONDS) with a `retry:` hint: resume with Last-Event-ID for
 * as long as the job runs. */
export async function follow(videoId, onEvent, signal) {
  const { apiUrl } = settings();
  let lastId = null;
  let retryMs = 1000;
  let broken = 0;
  while (broken < MAX_BROKEN) {
    try {
      const response = await fetch(`${apiUrl.replace(/\/$/, "")}/videos/${videoId}/events`, {
        headers: headers(lastId ? { "Last-Event-ID": lastId } : {}), signal });
      if (!response.ok) throw await failure(response);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const blocks = (pending + value.replace(/\r/g, "")).split("\n\n");
        pending = blocks.pop();
        retryMs = retryHint(blocks) ?? retryMs;
        for (const event of sseEvents(blocks)) {
          lastId = event.id || lastId;
          onEvent(event.event, event.data);
          if (event.event === "end") return event.data;
        }
      }
      broken = 0;
    } catch (err) {
      if (signal && signal.aborted) throw err;
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
      broken += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
  throw new ApiError(0, "stream", "The progress stream kept breaking; reload the page.");
}

/** A browser URL for a gs:// object that the API returns unsigned (local storage emulator only). */
export function storageLink(gsUri) {
  const { storageUrl } = settings();
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(gsUri || "");
  return match && storageUrl ? `${storageUrl.replace(/\/$/, "")}/${match[1]}/${match[2]}` : null;
}

/** Fetch a text file (subtitles, QA report) from a signed URL. */
export async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new ApiError(response.status, "download", `Download failed (HTTP ${response.status}).`);
  return response.text();
}
