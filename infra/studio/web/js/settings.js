// Settings: which API to call and with which key (kept in this browser's localStorage).
import { api, saveSettings, settings } from "./api.js";
import { errorBox, h, show } from "./dom.js";

export function settingsPage() {
  const current = settings();
  const status = h("p", { id: "settings-status", role: "status" });
  const error = errorBox("settings-error");
  const form = h("form", { id: "settings-form" },
    h("div", { class: "field" }, h("label", { for: "api-url" }, "API URL"),
      h("input", { type: "url", id: "api-url", name: "apiUrl", required: true, value: current.apiUrl })),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key or ID token"),
      h("input", { type: "password", id: "api-key", name: "apiKey", value: current.apiKey, autocomplete: "off" })),
    error, status, h("div", {}, h("button", { type: "submit" }, "Save and test")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    saveSettings(form.elements.apiUrl.value, form.elements.apiKey.value);
    error.textContent = status.textContent = "";
    try {
      const me = await api("GET", "/me");
      status.textContent = `Connected as ${me.user_id} (${me.auth}).`;
    } catch (err) {
      error.textContent = err.message;
    }
  });
  show("Settings", form);
}
