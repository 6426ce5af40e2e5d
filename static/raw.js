// Raw config: the whole draft as pretty JSON in a textarea, checked in the browser before it is
// sent. With "JSON5" ticked the text goes as application/json5 and the server checks it.

import { api } from "./api.js";
import { byId, clearNotice, notify, notifySaved } from "./dom.js";
import { changed, state } from "./state.js";

// state.rawEdited: the textarea holds the user's text: do not overwrite it, and it counts as
// an unsaved change (Save saves it; leaving the page warns).

function setEdited(value) {
  if (state.rawEdited === value) return;
  state.rawEdited = value;
  changed("raw");
}

export const rawEdited = () => state.rawEdited;

function fill(config = state.config) {
  byId("raw-text").value = config ? JSON.stringify(config, null, 2) : "";
  byId("raw-error").textContent = "";
  setEdited(false);
}

/** Keys as stored, asked for explicitly (GET /api/config?reveal=1); the draft stays masked. */
async function reveal() {
  if (state.rawEdited && !window.confirm("Replace your edits in the box with the saved config, keys shown?")) return;
  try {
    fill(await api("GET", "/api/config?reveal=1"));
    notify("Keys shown in the Raw tab. Reset to the draft hides them again.", "info");
  } catch (error) {
    byId("raw-error").textContent = `Cannot show the keys: ${error.message}`;
  }
}

/** The text as a config object, or throws with a message that says nothing was saved. */
function parse(text) {
  let config;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new Error(`Not valid JSON: ${error.message}. (For comments or trailing commas tick JSON5.)`);
  }
  if (!config || typeof config !== "object" || Array.isArray(config)) {
    throw new Error("The config must be a JSON object ({...})");
  }
  return config;
}

export function showRaw() {
  if (!state.rawEdited) fill();
}

function check() {
  const error = byId("raw-error");
  if (byId("raw-json5").checked) {
    error.textContent = "JSON5 is checked by the server when you save.";
    return;
  }
  try {
    parse(byId("raw-text").value);
    error.textContent = "";
    notify("The raw config is valid JSON.", "ok");
  } catch (problem) {
    error.textContent = problem.message;
  }
}

/** Save the textarea; `reload` (true when it worked) refreshes the draft, which refills the box. */
export async function saveRaw(reload) {
  const text = byId("raw-text").value;
  const error = byId("raw-error");
  let request;
  if (byId("raw-json5").checked) {
    request = { text, contentType: "application/json5" };
  } else {
    try {
      request = { json: parse(text) };
    } catch (problem) {
      error.textContent = `${problem.message} Nothing was saved.`;
      clearNotice(); // no stale "saved" / "server is back" next to the error
      return null;
    }
  }
  let answer;
  try {
    answer = await api("POST", "/api/config", request);
  } catch (problem) {
    error.textContent = `Not saved: ${problem.message}`;
    clearNotice(); // no stale "saved" / "server is back" next to the error
    return null;
  }
  error.textContent = "";
  setEdited(false);
  if (await reload()) notifySaved(answer); // reload() reports its own failure
  return answer;
}

export function initRaw(reload) {
  byId("raw-text").addEventListener("input", () => setEdited(true));
  byId("raw-reveal").addEventListener("click", reveal);
  byId("raw-check").addEventListener("click", check);
  byId("raw-reset").addEventListener("click", () => fill());
  byId("raw-save").addEventListener("click", () => saveRaw(reload));
  // The text (keys included) is only put in the box while the tab is open; showRaw fills it.
  return (source) => {
    if (source !== "load" || state.rawEdited) return;
    if (byId("panel-raw").hidden) byId("raw-text").value = "";
    else fill();
  };
}
