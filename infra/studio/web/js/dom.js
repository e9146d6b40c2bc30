// Small DOM helpers: build elements without a framework.

/** h("a", {href: "#/x", class: "y"}, "text", child) → an element; `on*` props become listeners. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Replace the main view's content, give it a heading and move the focus there (screen readers). */
export function show(title, ...children) {
  const view = document.getElementById("view");
  const heading = h("h1", { tabindex: "-1" }, title);
  view.replaceChildren(heading, ...children);
  document.title = `${title} — Studio`;
  heading.focus();
}

export const money = (usd) => (typeof usd === "number" ? `$${usd.toFixed(2)}` : "—");

/** 133 → "02:13". */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
                   : `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}

/** An error line that screen readers announce. */
export const errorBox = (id) => h("p", { id, class: "error", role: "alert" });

/** A video's length as a creator reads it: 64.4 → "1 min 04 s", 31 → "31 s". */
export function minutes(seconds) {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
}
