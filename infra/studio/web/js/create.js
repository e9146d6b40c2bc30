// Create a video: theme, style, language, character, music, preset with its estimated cost.
import { api, storageLink } from "./api.js";
import { LANGUAGES, PRESETS, STYLES } from "./catalog.js";
import { clock, errorBox, h, money, show } from "./dom.js";

/** One radio "card" of a group: the input, its label (title + hint) and optional extras. */
function choice(name, value, title, hint, { checked = false, before = null, after = null, extra = null } = {}) {
  const id = `${name}-${value || "none"}`;
  return h("div", { class: "choice" },
    h("input", { type: "radio", name, value, id, checked }),
    before,
    h("div", {}, h("label", { for: id }, title, hint ? h("span", { class: "hint" }, hint) : null, after), extra));
}

export function portrait(character, large = false) {
  const src = character.portrait_url || storageLink(character.image_uri);
  const cls = large ? "portrait large" : "portrait";
  return src ? h("img", { class: cls, src, alt: `Portrait of ${character.name}` })
             : h("span", { class: cls, "aria-hidden": "true" }, character.name.slice(0, 1).toUpperCase());
}

function styleGroup() {
  return h("fieldset", {}, h("legend", {}, "Style"), h("div", { class: "choices" },
    Object.entries(STYLES).map(([value, [title, hint]], i) => choice("style", value, title, hint, { checked: i === 0 }))));
}

function languageField() {
  return h("div", { class: "field" }, h("label", { for: "language" }, "Language"),
    h("select", { id: "language", name: "language" },
      Object.entries(LANGUAGES).map(([value, name]) => h("option", { value }, name))));
}

function characterGroup(characters) {
  return h("fieldset", {}, h("legend", {}, "Character"), h("div", { class: "choices" },
    choice("character_id", "", "No character", "The script invents its people.", { checked: true }),
    characters.map((c) => choice("character_id", c.character_id, c.name, c.description, { before: portrait(c) }))));
}

function musicGroup(tracks) {
  return h("fieldset", {}, h("legend", {}, "Music"), h("div", { class: "choices" },
    choice("music", "", "Automatic", "A track that suits the style.", { checked: true }),
    tracks.map((t) => choice("music", t.id, t.name, `${t.category}, ${Math.round(t.duration)} s`, {
      extra: h("audio", { controls: true, preload: "none", src: t.preview_url, "aria-label": `Preview ${t.name}` }) }))));
}

function presetGroup() {
  return h("fieldset", {}, h("legend", {}, "Preset"), h("div", { class: "choices" },
    Object.entries(PRESETS).map(([value, [title, hint]]) => choice("preset", value, title, hint, {
      checked: value === "quick_social",
      after: h("span", { class: "hint cost", id: `cost-${value}` }, "Estimated cost: type a theme") }))));
}

/** The request body from the form (only the fields that were chosen). */
export function requestBody(form) {
  const data = new FormData(form);
  const body = {};
  for (const key of ["theme", "style", "language", "character_id", "music", "preset"]) {
    const value = (data.get(key) || "").trim();
    if (value) body[key] = value;
  }
  return body;
}

async function refreshEstimates(form) {
  const body = requestBody(form);
  if (!body.theme || body.theme.length < 3) return;
  try {
    const answer = await api("POST", "/estimate", body);
    for (const [name, found] of Object.entries(answer.presets)) {
      const cell = form.querySelector(`#cost-${name}`);
      if (cell) cell.textContent = `Estimated cost ${money(found.cost_usd.total)}, ready in ~${clock(found.delivery_seconds)}`;
    }
  } catch (err) {
    form.querySelector("#create-error").textContent = err.message;
  }
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  const error = form.querySelector("#create-error");
  button.disabled = true;
  error.textContent = "";
  try {
    const answer = await api("POST", "/videos", requestBody(form));
    location.hash = `#/video/${answer.video_id}`;
  } catch (err) {
    error.textContent = err.field ? `${err.message} (${err.field})` : err.message;
    button.disabled = false;
  }
}

export async function createPage() {
  const [characters, music] = await Promise.all([api("GET", "/characters"), api("GET", "/music")]);
  let timer = null;
  const form = h("form", { id: "create-form", onsubmit: submit, oninput: () => {
    clearTimeout(timer);
    timer = setTimeout(() => refreshEstimates(form), 400);
  } },
    h("div", { class: "field" }, h("label", { for: "theme" }, "Theme"),
      h("textarea", { id: "theme", name: "theme", rows: 2, required: true, minLength: 3, maxLength: 300,
                      placeholder: "A lighthouse keeper who befriends a storm", "aria-describedby": "theme-hint" }),
      h("span", { class: "hint", id: "theme-hint" }, "What the video is about, in a sentence (3–300 characters).")),
    styleGroup(), languageField(), characterGroup(characters.characters), musicGroup(music.tracks), presetGroup(),
    errorBox("create-error"),
    h("div", {}, h("button", { type: "submit" }, "Create video")));
  show("Create a video", form);
}
