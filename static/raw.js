// Raw config: the whole draft as pretty JSON in a textarea, checked in the browser before it is
// sent. With "JSON5" ticked the text goes as application/json5 and the server checks it.

import { api } from "./api.js";
import { byId, notify, notifySaved } from "./dom.js";
import { state } from "./state.js";

let edited = false; // the textarea holds the user's text: do not overwrite it

function fill() {
  byId("raw-text").value = state.config ? JSON.stringify(state.config, null, 2) : "";
  byId("raw-error").textContent = "";
  edited = false;
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
  if (!edited) fill();
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
async function save(reload) {
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
      return;
    }
  }
  let answer;
  try {
    answer = await api("POST", "/api/config", request);
  } catch (problem) {
    error.textContent = `Not saved: ${problem.message}`;
    return;
  }
  error.textContent = "";
  edited = false;
  if (await reload()) notifySaved(answer); // reload() reports its own failure
}

export function initRaw(reload) {
  byId("raw-text").addEventListener("input", () => { edited = true; });
  byId("raw-check").addEventListener("click", check);
  byId("raw-reset").addEventListener("click", fill);
  byId("raw-save").addEventListener("click", () => save(reload));
  // The text (keys included) is only put in the box while the tab is open; showRaw fills it.
  return (source) => {
    if (source !== "load" || edited) return;
    if (byId("panel-raw").hidden) byId("raw-text").value = "";
    else fill();
  };
}
