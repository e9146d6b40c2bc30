// My videos: thumbnails (signed URLs in the list itself), length, views, a favourite toggle; filters by
// favourite, style, language and character; sorting by date, views or delivered length.
import { api } from "./api.js";
import { LANGUAGES, STYLES } from "./catalog.js";
import { errorBox, h, minutes, show } from "./dom.js";

function select(id, label, options) {
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id, name: id }, options.map(([value, text]) => h("option", { value }, text))));
}

function filtersForm(characters) {
  return h("form", { class: "filters", id: "filters", "aria-label": "Filters" },
    h("div", { class: "check" }, h("input", { type: "checkbox", id: "filter-favourites", name: "favourite" }),
      h("label", { for: "filter-favourites" }, "Favourites only")),
    select("filter-style", "Style", [["", "Any style"], ...Object.entries(STYLES).map(([k, [t]]) => [k, t])]),
    select("filter-language", "Language", [["", "Any language"], ...Object.entries(LANGUAGES)]),
    select("filter-character", "Character", [["", "Any character"],
                                             ...characters.map((c) => [c.character_id, c.name])]),
    select("filter-sort", "Sort by", [["date", "Newest"], ["views", "Most viewed"], ["duration", "Longest"]]));
}

function query(form, pageToken) {
  const params = new URLSearchParams({ sort: form.elements["filter-sort"].value, limit: "20" });
  if (form.elements.favourite.checked) params.set("favourite", "true");
  for (const [field, name] of [["filter-style", "style"], ["filter-language", "language"],
                               ["filter-character", "character_id"]]) {
    if (form.elements[field].value) params.set(name, form.elements[field].value);
  }
  if (pageToken) params.set("page_token", pageToken);
  return `/videos?${params}`;
}

function thumbnail(video) {
  if (video.thumbnail) return h("img", { class: "thumb", src: video.thumbnail.url, alt: "", loading: "lazy" });
  return h("div", { class: "thumb", role: "img", "aria-label": "No thumbnail yet" });
}

function favouriteToggle(video) {
  const button = h("button", { type: "button", class: "secondary fav" });
  const draw = (on) => {
    button.setAttribute("aria-pressed", String(on));
    button.setAttribute("aria-label", `Favourite: ${video.title || video.video_id}`);
    button.textContent = on ? "★ Favourite" : "☆ Favourite";
  };
  draw(Boolean(video.favourite));
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.disabled = true;
    try {
      draw((await api(on ? "PUT" : "DELETE", `/videos/${video.video_id}/favourite`)).favourite);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function card(video) {
  const length = video.duration ? minutes(video.duration) : `~${minutes(video.planned_seconds || 0)} planned`;
  const views = video.views === 1 ? "1 view" : `${video.views || 0} views`;
  return h("li", { class: "card", "data-video-id": video.video_id },
    h("a", { href: `#/video/${video.video_id}` }, thumbnail(video),
      h("div", { class: "meta" },
        h("span", { class: "title" }, video.title || video.theme || video.video_id),
        h("span", { class: "badge length" }, `${length} · ${video.status.replace(/_/g, " ")}`),
        h("span", { class: "badge views" }, views))),
    h("div", { class: "actions" }, favouriteToggle(video)));
}

export async function videosPage() {
  const { characters } = await api("GET", "/characters");
  const form = filtersForm(characters);
  const list = h("ul", { class: "grid", id: "video-list", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary", id: "more", hidden: true }, "More videos");
  const error = errorBox("videos-error");
  let next = null;
  const load = async (append) => {
    try {
      const page = await api("GET", query(form, append ? next : null));
      const cards = page.videos.map(card);
      if (append) list.append(...cards);
      else list.replaceChildren(...(cards.length ? cards : [h("li", {}, "No videos here yet.")]));
      next = page.next_page_token;
      more.hidden = !next;
      error.textContent = "";
    } catch (err) {
      error.textContent = err.message;
    }
  };
  form.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));
  show("My videos", form, error, list, more);
  await load(false);
}
