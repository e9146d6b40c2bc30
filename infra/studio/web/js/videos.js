// My videos: thumbnails, durations, favourites; filters by favourite, style, language; sorting.
import { api } from "./api.js";
import { LANGUAGES, STYLES } from "./catalog.js";
import { errorBox, h, show } from "./dom.js";

function select(id, label, options) {
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id, name: id }, options.map(([value, text]) => h("option", { value }, text))));
}

function filtersForm() {
  return h("form", { class: "filters", id: "filters", "aria-label": "Filters" },
    h("div", { class: "check" }, h("input", { type: "checkbox", id: "filter-favourites", name: "favourite" }),
      h("label", { for: "filter-favourites" }, "Favourites only")),
    select("filter-style", "Style", [["", "Any style"], ...Object.entries(STYLES).map(([k, [t]]) => [k, t])]),
    select("filter-language", "Language", [["", "Any language"], ...Object.entries(LANGUAGES)]),
    select("filter-sort", "Sort by", [["date", "Newest"], ["views", "Most viewed"], ["duration", "Longest"]]));
}

function query(form, pageToken) {
  const params = new URLSearchParams({ sort: form.elements["filter-sort"].value, limit: "20" });
  if (form.elements.favourite.checked) params.set("favourite", "true");
  if (form.elements["filter-style"].value) params.set("style", form.elements["filter-style"].value);
  if (form.elements["filter-language"].value) params.set("language", form.elements["filter-language"].value);
  if (pageToken) params.set("page_token", pageToken);
  return `/videos?${params}`;
}

async function thumbnail(video) {
  if (video.status !== "completed") return h("div", { class: "thumb", role: "img", "aria-label": "No thumbnail yet" });
  const { files } = await api("GET", `/videos/${video.video_id}/files`);
  return files.thumbnail ? h("img", { class: "thumb", src: files.thumbnail.url, alt: "", loading: "lazy" })
                         : h("div", { class: "thumb" });
}

async function card(video) {
  const length = video.duration ? `${Math.round(video.duration)} s` : `~${video.planned_seconds || "?"} s planned`;
  return h("li", { class: "card", "data-video-id": video.video_id },
    h("a", { href: `#/video/${video.video_id}` }, await thumbnail(video),
      h("div", { class: "meta" },
        h("span", { class: "title" }, video.favourite ? h("span", { "aria-label": "Favourite" }, "★ ") : null,
          video.title || video.theme || video.video_id),
        h("span", { class: "badge" }, `${length} · ${video.status.replace(/_/g, " ")}`))));
}

export async function videosPage() {
  const form = filtersForm();
  const list = h("ul", { class: "grid", id: "video-list", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary", id: "more", hidden: true }, "More videos");
  const error = errorBox("videos-error");
  let next = null;
  const load = async (append) => {
    try {
      const page = await api("GET", query(form, append ? next : null));
      const cards = await Promise.all(page.videos.map(card));
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
