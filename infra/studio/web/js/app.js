// The router: #/create[/<character id>], #/videos, #/video/<id>, #/characters, #/settings.
import { charactersPage } from "./characters.js";
import { createPage } from "./create.js";
import { h, show } from "./dom.js";
import { settingsPage } from "./settings.js";
import { videoPage } from "./video.js";
import { videosPage } from "./videos.js";

let leaving = null; // aborts the previous page's progress stream

function markNav(name) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  leaving?.abort();
  leaving = new AbortController();
  const [, page = "create", id] = location.hash.split("/");
  markNav(page === "video" ? "videos" : page);
  try {
    if (page === "video" && id) await videoPage(decodeURIComponent(id), leaving.signal);
    else if (page === "videos") await videosPage();
    else if (page === "characters") await charactersPage();
    else if (page === "settings") settingsPage();
    else await createPage(page === "create" && id ? decodeURIComponent(id) : null);
  } catch (err) {
    if (err.name === "AbortError") return;
    show("Something went wrong", h("p", { class: "error", role: "alert", id: "page-error" }, err.message),
      err.status === 401 || err.code === "no_api" ? h("a", { href: "#/settings" }, "Check the settings") : null);
  }
}

window.addEventListener("hashchange", route);
route();
