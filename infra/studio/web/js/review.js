// Review before paying: a video created with "review" waits after its script. Its storyboard (a rough preview
// with the script's scenes and dialogue, no Veo) and its cost are shown; Approve starts Veo (and counts the
// video against the quota), Cancel ends it with nothing paid to Veo. The storyboard is rendered by its own step:
// while the API answers 202 "rendering", the panel says so and asks again after its Retry-After.
import { api } from "./api.js";
import { errorBox, h, money } from "./dom.js";

const STORYBOARD_WAIT_MS = 600000;

/** The storyboard once rendered (or failed), polling while the API says it is rendering. */
async function renderedStoryboard(videoId, onWait) {
  const deadline = Date.now() + STORYBOARD_WAIT_MS;
  let board = await api("GET", `/videos/${videoId}/storyboard`);
  while (board.state === "rendering" && Date.now() < deadline) {
    onWait(board);
    await new Promise((resolve) => setTimeout(resolve, 1000 * (board.retry_after_seconds || 3)));
    board = await api("GET", `/videos/${videoId}/storyboard`);
  }
  return board;
}

function blocksTable(blocks) {
  return h("table", { id: "storyboard-blocks" },
    h("thead", {}, h("tr", {}, ["#", "time", "scene", "dialogue"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, blocks.map((b) => h("tr", {},
      h("th", { scope: "row" }, String(b.index + 1)), h("td", {}, `${b.start.toFixed(1)}–${b.end.toFixed(1)} s`),
      h("td", {}, b.visual), h("td", {}, b.dialogue)))));
}

/** The review panel of a job awaiting approval; `decided()` runs once it is approved or cancelled. */
export async function reviewView(doc, decided, onWait = () => {}) {
  const board = await renderedStoryboard(doc.video_id, onWait);
  const cost = board.estimate && board.estimate.cost_usd ? board.estimate.cost_usd.total : null;
  const error = errorBox("review-error");
  if (board.state !== "ready") error.textContent = board.state === "failed"
    ? `The storyboard could not be made (${board.error.code}: ${board.error.message}). You can still cancel.`
    : "The storyboard is still being rendered: reload the page in a minute.";
  const act = (action) => async (event) => {
    event.currentTarget.disabled = true;
    try {
      await api("POST", `/videos/${doc.video_id}/${action}`);
      decided();
    } catch (err) {
      error.textContent = err.message;
      event.currentTarget.disabled = false;
    }
  };
  return h("section", { id: "review", "aria-labelledby": "review-title" },
    h("h2", { id: "review-title" }, "Review before paying"),
    h("p", {}, `Nothing has been paid to Veo yet. This ${board.preset || ""} video will cost about ${money(cost)} `
      + "once you approve it; the preview below is a rough storyboard of its script."),
    h("div", { class: "player" },
      board.state === "ready"
        ? h("video", { id: "storyboard-preview", controls: true, playsInline: true, preload: "metadata",
                       src: board.preview.url, "aria-label": "Storyboard preview" })
        : h("p", { id: "storyboard-missing" }, "No preview."),
      h("div", {}, board.state === "ready" ? blocksTable(board.blocks) : "", error,
        h("div", { class: "actions" },
          h("button", { type: "button", id: "approve", onclick: act("approve") }, `Approve and pay ${money(cost)}`),
          h("button", { type: "button", class: "secondary", id: "cancel", onclick: act("cancel") }, "Cancel")))));
}
