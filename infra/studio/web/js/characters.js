// Characters: create one (its portrait is drawn by the image model), browse them, make a video with one, delete.
import { api } from "./api.js";
import { STYLES } from "./catalog.js";
import { portrait } from "./create.js";
import { errorBox, h, show } from "./dom.js";

function characterCard(c, announce) {
  const remove = h("button", { type: "button", class: "secondary delete", "aria-label": `Delete ${c.name}` },
    "Delete");
  const item = h("li", { class: "card character", "data-character-id": c.character_id }, portrait(c, true),
    h("div", { class: "meta" }, h("span", { class: "title" }, c.name),
      h("span", { class: "badge" }, STYLES[c.style] ? STYLES[c.style][0] : c.style), h("span", {}, c.description),
      h("div", { class: "actions" },
        h("a", { href: `#/create/${encodeURIComponent(c.character_id)}`, class: "create-with" },
          "Create a video with this character"),
        remove)));
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await api("DELETE", `/characters/${encodeURIComponent(c.character_id)}`);
      item.remove();
      announce(`${c.name} was deleted.`);
    } catch (err) {
      announce(err.message);
      remove.disabled = false;
    }
  });
  return item;
}

function createForm(onCreated) {
  const error = errorBox("character-error");
  const form = h("form", { id: "character-form", "aria-labelledby": "new-character" },
    h("h2", { id: "new-character" }, "New character"),
    h("div", { class: "field" }, h("label", { for: "character-name" }, "Name"),
      h("input", { type: "text", id: "character-name", name: "name", required: true, maxLength: 60 })),
    h("div", { class: "field" }, h("label", { for: "character-description" }, "Description"),
      h("textarea", { id: "character-description", name: "description", rows: 2, required: true, minLength: 3,
                      maxLength: 400, placeholder: "A retired sailor with a red scarf and a grey beard" })),
    h("div", { class: "field" }, h("label", { for: "character-style" }, "Style"),
      h("select", { id: "character-style", name: "style" },
        Object.entries(STYLES).map(([value, [title]]) => h("option", { value }, title)))),
    error, h("div", {}, h("button", { type: "submit" }, "Create character")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    error.textContent = "";
    try {
      const data = new FormData(form);
      onCreated(await api("POST", "/characters", Object.fromEntries(data.entries())));
      form.reset();
    } catch (err) {
      error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function charactersPage() {
  const { characters } = await api("GET", "/characters");
  const status = h("p", { id: "character-status", role: "status" });
  const announce = (text) => { status.textContent = text; };
  const list = h("ul", { class: "grid wide", id: "character-list", "aria-label": "My characters" },
    characters.length ? characters.map((c) => characterCard(c, announce))
                      : h("li", { class: "empty" }, "No characters yet."));
  const form = createForm((c) => {
    list.querySelector(".empty")?.remove();
    list.prepend(characterCard(c, announce));
  });
  show("Characters", form, h("h2", {}, "My characters"), status, list);
}
