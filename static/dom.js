// Small DOM helpers. Data only ever reaches the page as text (textContent / attribute values),
// never as markup, so a provider name or a log line cannot inject HTML.

export const byId = (id) => document.getElementById(id);

/** el("td", {className: "x", dataset: {k: "v"}, attrs: {...}}, "text", childNode, ...) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "attrs") for (const [a, v] of Object.entries(value)) node.setAttribute(a, v);
    else node[name] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function option(value, label, selected = false) {
  const opt = el("option", { value, textContent: label });
  opt.selected = selected;
  return opt;
}

let noticeTimer = null;

/** Show a message in the notice area: kind "ok", "info" or "error" (errors stay until replaced). */
export function notify(message, kind = "info") {
  const box = byId("notice");
  clear(box);
  box.className = `notice ${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.append(message);
  box.hidden = false;
  clearTimeout(noticeTimer);
  if (kind === "ok") noticeTimer = setTimeout(() => { box.hidden = true; }, 8000);
}

/** Hide the notice unless it is an error: a failed action must not sit next to an old success. */
export function clearNotice() {
  const box = byId("notice");
  if (box.classList.contains("error")) return;
  clearTimeout(noticeTimer);
  box.hidden = true;
}

/** `message` plus the server's warnings of a save (Router entries naming nothing, restart needed). */
export function notifySaved(answer, message = "Config saved.") {
  const warnings = Array.isArray(answer?.warnings) ? answer.warnings : [];
  notify(warnings.length ? `${message} Warnings: ${warnings.join("; ")}` : message, warnings.length ? "info" : "ok");
}
