// One video: live progress while it renders, then the player with subtitles, favourite and QA report.
import { api, fetchText, follow } from "./api.js";
import { LANGUAGES } from "./catalog.js";
import { reviewView } from "./review.js";
import { clock, errorBox, h, minutes, money, show } from "./dom.js";

/** WebVTT text from SRT text (the quick_social preset delivers SRT only). */
export function srtToVtt(srt) {
  const body = srt.replace(/\r/g, "").replace(/(\d\d:\d\d:\d\d),(\d\d\d)/g, "$1.$2");
  return `WEBVTT\n\n${body}`;
}

function progressView(doc) {
  const cost = doc.estimate && doc.estimate.cost_usd ? doc.estimate.cost_usd.total : null;
  const bar = h("div", { style: "width: 0%" });
  const meter = h("div", { class: "progress", id: "progress", role: "progressbar", "aria-valuemin": "0",
                          "aria-valuemax": "100", "aria-valuenow": "0", "aria-label": "Progress" }, bar);
  const text = h("p", { class: "progress-text", id: "progress-text", "aria-live": "polite" });
  const started = Date.parse(doc.created_at) || Date.now();
  let last = doc.progress || {};
  let ended = null; // a finished job's clock stops
  const draw = () => {
    const blocks = last.blocks_total ? ` · blocks ${last.blocks_done}/${last.blocks_total}` : "";
    text.textContent = `${last.percent || 0}% · ${last.stage || last.status || ""}${blocks} · `
      + `${clock(((ended || Date.now()) - started) / 1000)} · est. ${money(cost)}`;
  };
  const finish = (at) => { ended = Date.parse(at) || Date.now(); draw(); };
  const update = (data) => {
    last = data;
    bar.style.width = `${data.percent || 0}%`;
    meter.setAttribute("aria-valuenow", String(data.percent || 0));
    meter.setAttribute("aria-valuetext", `${data.percent || 0}% ${data.stage || ""}`);
    draw();
  };
  update(last);
  return { node: h("section", { "aria-label": "Progress" }, meter, text), update, draw, finish };
}

async function subtitleTrack(files, language) {
  const file = files.subtitles_vtt || files.subtitles_srt;
  if (!file) return null;
  const text = await fetchText(file.url);
  const vtt = files.subtitles_vtt ? text : srtToVtt(text);
  const src = URL.createObjectURL(new Blob([vtt], { type: "text/vtt" }));
  // Not shown by default: the delivered video has them burned in; the track serves the player's CC button.
  return h("track", { kind: "subtitles", srclang: language || "en", label: LANGUAGES[language] || "Subtitles", src });
}

function favouriteButton(doc) {
  const button = h("button", { type: "button", class: "secondary", id: "favourite" });
  const draw = (on) => {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "★ Favourite" : "☆ Add to favourites";
  };
  draw(Boolean(doc.favourite));
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    const answer = await api(on ? "PUT" : "DELETE", `/videos/${doc.video_id}/favourite`);
    draw(answer.favourite);
  });
  return button;
}

/** A measured value or threshold as text: [29, 50] → "29 – 50", {avg: 24, r: 24} → "avg 24, r 24". */
function asText(value) {
  if (Array.isArray(value)) return value.join(" – ");
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${v}`).join(", ");
  return String(value);
}

async function qaReport(files) {
  if (!files.qa_report) return h("p", {}, "No QA report.");
  const report = JSON.parse(await fetchText(files.qa_report.url));
  const rows = report.checks.map((c) => h("tr", {},
    h("th", { scope: "row" }, c.name), h("td", {}, `${asText(c.measured)} ${c.unit || ""}`.trim()),
    h("td", {}, asText(c.threshold)),
    h("td", { class: c.passed ? "pass" : "fail" }, c.passed ? "pass" : (c.blocking ? "FAIL" : "warning"))));
  return h("section", { id: "qa-report", "aria-labelledby": "qa-title" },
    h("h2", { id: "qa-title" }, "QA report: ", h("span", { class: report.passed ? "pass" : "fail" },
      report.passed ? "passed" : "failed")),
    h("table", {}, h("thead", {}, h("tr", {}, ["check", "measured", "required", "verdict"].map(
      (t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)));
}

function downloads(files) {
  const names = { final_video: "Video (MP4)", thumbnail: "Thumbnail", subtitles_srt: "Subtitles (SRT)",
                  subtitles_vtt: "Subtitles (VTT)", qa_report_md: "QA report (Markdown)" };
  return h("ul", { class: "downloads" }, Object.entries(names).filter(([k]) => files[k]).map(
    ([k, label]) => h("li", {}, h("a", { href: files[k].url, download: "" }, label))));
}

async function playerView(doc) {
  const files = doc.files || {};
  const video = h("video", { id: "player", controls: true, playsInline: true, preload: "metadata",
                             src: files.final_video && files.final_video.url,
                             poster: files.thumbnail && files.thumbnail.url, "aria-label": doc.title || "Video" });
  const track = await subtitleTrack(files, doc.language);
  if (track) video.append(track);
  video.addEventListener("play", () => api("POST", `/videos/${doc.video_id}/views`).catch(() => {}), { once: true });
  const details = h("div", {},
    h("p", {}, `${doc.theme || ""} · ${doc.style || ""} · ${LANGUAGES[doc.language] || doc.language || ""}`
      + (doc.duration ? ` · ${minutes(doc.duration)}` : "") + ` · ${doc.views || 0} views`
      + (doc.music === "none" ? " · no music" : "")),
    favouriteButton(doc), downloads(files));
  return [h("div", { class: "player" }, video, details), await qaReport(files)];
}

function failure(doc) {
  const error = doc.error || {};
  return h("p", { class: "error", role: "alert" },
    `This video ${doc.status}: ${error.message || "no reason given"} (${error.code || "error"}`
    + `${error.error_id ? `, error id ${error.error_id}` : ""})`);
}

export async function videoPage(videoId, signal) {
  let doc = await api("GET", `/videos/${videoId}`);
  if (doc.status === "awaiting_approval") {
    const waiting = (board) => show(doc.title || "Your video", h("p", { id: "storyboard-rendering", role: "status" },
      `Rendering the storyboard of your script (revision ${board.revision + 1})…`));
    show(doc.title || "Your video", await reviewView(doc, () => videoPage(videoId, signal), waiting));
    return;
  }
  const progress = progressView(doc);
  const body = h("div", { id: "video-body" });
  show(doc.title || "Your video", progress.node, errorBox("video-error"), body);
  if (doc.status !== "completed") {
    const ticker = setInterval(progress.draw, 1000);
    try {
      await follow(videoId, (_event, data) => progress.update(data), signal);
    } finally {
      clearInterval(ticker);
    }
    doc = await api("GET", `/videos/${videoId}`);
    progress.update(doc.progress);
  }
  const history = doc.history || [];
  progress.finish(history.length ? history[history.length - 1].at : null);
  body.replaceChildren(...(doc.status === "completed" ? await playerView(doc) : [failure(doc)]));
}
