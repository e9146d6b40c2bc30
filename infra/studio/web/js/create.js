// Create a video: theme, style (with a preview picture), language, narrator voice (with samples), character,
// music (a mood, a track with its preview, or none) and preset, each preset with its cost and delivery time.
import { api, storageLink } from "./api.js";
import { LANGUAGES, PRESETS, STYLES } from "./catalog.js";
import { clock, errorBox, h, money, show } from "./dom.js";

const DEFAULT_PRESET = "brand_campaign"; // 60–90 s: the product's centre
const SAMPLE_THEME = "A lighthouse keeper who befriends a storm"; // costs before a theme is typed

/** One radio "card" of a group: the input, its label (title + hint) and optional extras. */
function choice(name, value, title, hint, { checked = false, before = null, after = null, extra = null } = {}) {
  const id = `${name}-${value || "auto"}`;
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

/** The mood of the track a style gets by default (the catalogue's default_for). */
function defaultMood(tracks, style) {
  const track = tracks.find((t) => (t.default_for || []).includes(style));
  return track ? track.mood || track.category : null;
}

function styleGroup(tracks) {
  return h("fieldset", {}, h("legend", {}, "Style"), h("div", { class: "choices styles" },
    Object.entries(STYLES).map(([value, [title, hint]], i) => {
      const mood = defaultMood(tracks, value);
      return choice("style", value, title, hint + (mood ? ` Music: ${mood}.` : ""), {
        checked: i === 0,
        before: h("img", { class: "style-preview", src: `img/styles/${value}.jpg`, alt: "", width: 72, height: 128 }) });
    })));
}

function languageField() {
  return h("div", { class: "field" }, h("label", { for: "language" }, "Language"),
    h("select", { id: "language", name: "language" },
      Object.entries(LANGUAGES).map(([value, name]) => h("option", { value }, name))));
}

function sample(url, label) {
  return h("audio", { controls: true, preload: "none", src: url, "aria-label": label });
}

function voiceGroup(voices) {
  return h("fieldset", {}, h("legend", {}, "Narrator voice"), h("div", { class: "choices" },
    choice("voice", "", "Let Veo choose", "A voice that suits the script.", { checked: true }),
    voices.map((v) => choice("voice", v.id, v.label, v.description, {
      extra: sample(v.sample_url, `Sample of ${v.label}`) }))),
  h("p", { class: "hint" }, "Samples are offline approximations; the video's voice is Veo's."));
}

function characterGroup(characters, chosen) {
  const known = characters.some((c) => c.character_id === chosen);
  return h("fieldset", {}, h("legend", {}, "Character"), h("div", { class: "choices" },
    choice("character_id", "", "No character", "The script invents its people.", { checked: !known }),
    characters.map((c) => choice("character_id", c.character_id, c.name, c.description, {
      before: portrait(c), checked: c.character_id === chosen }))));
}

function musicGroup(catalogue) {
  return h("fieldset", {}, h("legend", {}, "Music"), h("div", { class: "choices" },
    choice("music", "", "Automatic", "The style's default mood.", { checked: true }),
    choice("music", catalogue.no_music || "none", "No music", "Only the voice and the scene's own sound."),
    catalogue.tracks.map((t) => choice("music", t.id, t.name,
      `${t.mood || t.category} · ${Math.round(t.duration)} s · ${t.licence || ""}`, {
        extra: sample(t.preview_url, `Preview ${t.name}`) }))));
}

function presetGroup() {
  return h("fieldset", {}, h("legend", {}, "Preset"), h("div", { class: "choices" },
    Object.entries(PRESETS).map(([value, [title, hint]]) => choice("preset", value, title, hint, {
      checked: value === DEFAULT_PRESET,
      after: h("span", { class: "hint cost", id: `cost-${value}` }, "Estimating…") }))));
}

/** The request body from the form (only the fields that were chosen). */
export function requestBody(form) {
  const data = new FormData(form);
  const body = {};
  for (const key of ["theme", "style", "language", "voice", "character_id", "music", "preset"]) {
    const value = (data.get(key) || "").trim();
    if (value) body[key] = value;
  }
  if (data.get("review")) body.review = true;
  return body;
}

async function refreshEstimates(form) {
  const body = requestBody(form);
  const typical = !body.theme || body.theme.length < 3;
  if (typical) body.theme = SAMPLE_THEME;
  try {
    const answer = await api("POST", "/estimate", body);
    for (const [name, found] of Object.entries(answer.presets)) {
      const cell = form.querySelector(`#cost-${name}`);
      if (cell) {
        cell.textContent = `${money(found.cost_usd.total)} · ready in ~${clock(found.delivery_seconds)}`
          + ` · ${found.video_seconds} s video`;
      }
    }
  } catch (err) {
    form.querySelector("#create-error").textContent = err.message;
  }
}

/** A key per request body: resubmitting the same form (a retry after an error) is the same video. */
function idempotencyKey(form, body) {
  const text = JSON.stringify(body);
  if (form.dataset.keyFor !== text) {
    form.dataset.keyFor = text;
    form.dataset.key = (crypto.randomUUID && crypto.randomUUID()) || `k${Date.now()}${Math.random().toString(36).slice(2)}`;
  }
  return form.dataset.key;
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  const error = form.querySelector("#create-error");
  button.disabled = true;
  error.textContent = "";
  try {
    const body = requestBody(form);
    const answer = await api("POST", "/videos", body, { "Idempotency-Key": idempotencyKey(form, body) });
    location.hash = `#/video/${answer.video_id}`;
  } catch (err) {
    error.textContent = err.field ? `${err.message} (${err.field})` : err.message;
    button.disabled = false;
  }
}

export async function createPage(characterId = null) {
  const [characters, music, voices] = await Promise.all([api("GET", "/characters"), api("GET", "/music"),
                                                         api("GET", "/voices")]);
  let timer = null;
  const form = h("form", { id: "create-form", onsubmit: submit, oninput: () => {
    clearTimeout(timer);
    timer = setTimeout(() => refreshEstimates(form), 400);
  } },
    h("div", { class: "field" }, h("label", { for: "theme" }, "Theme"),
      h("textarea", { id: "theme", name: "theme", rows: 2, required: true, minLength: 3, maxLength: 300,
                      placeholder: SAMPLE_THEME, "aria-describedby": "theme-hint" }),
      h("span", { class: "hint", id: "theme-hint" }, "What the video is about, in a sentence (3–300 characters).")),
    presetGroup(), styleGroup(music.tracks), languageField(), voiceGroup(voices.voices),
    characterGroup(characters.characters, characterId), musicGroup(music),
    h("div", { class: "check" }, h("input", { type: "checkbox", id: "review", name: "review" }),
      h("label", { for: "review" }, "Review the storyboard before paying"),
      h("span", { class: "hint" }, " — Veo starts only once you approve it.")),
    errorBox("create-error"),
    h("div", {}, h("button", { type: "submit" }, "Create video")));
  show("Create a video", form);
  await refreshEstimates(form);
}
