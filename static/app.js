// The page: tabs, loading the config, Save / Save & restart, and the API key prompt.

import { hideActivity, initActivity, showActivity } from "./activity.js";
import { api, forgetKey, healthy, onKeyNeeded, storedKey } from "./api.js";
import { byId, notify, notifySaved } from "./dom.js";
import { initLogs, showLogs } from "./logs.js";
import { initPresets, showPresets } from "./presets.js";
import { initSettings, showProblems } from "./settings.js";
import { initProviders } from "./providers.js";
import { initRaw, rawEdited, saveRaw, showRaw } from "./raw.js";
import { initRouter } from "./router.js";
import { isDirty, onChange, setConfig, state } from "./state.js";
import { renderTransformers } from "./transformers.js";

const RESTART_DEADLINE_MS = 30000;
const POLL_MS = 400;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let busy = false;

// ---------------------------------------------------------------- API key prompt

let keyAnswer = null;

function askForKey(message, wasWrong) {
  const dialog = byId("key-dialog");
  byId("key-error").textContent = wasWrong ? `${message}. Try again.` : "";
  byId("key-input").value = "";
  if (!dialog.open) dialog.showModal();
  byId("key-input").focus();
  return new Promise((resolve) => { keyAnswer = resolve; });
}

function submitKey(event) {
  event.preventDefault();
  const key = byId("key-input").value.trim();
  if (!key) {
    byId("key-error").textContent = "Enter the API key.";
    return;
  }
  byId("key-dialog").close();
  const answer = keyAnswer;
  keyAnswer = null;
  if (answer) answer(key);
  byId("forget-key").hidden = false;
}

// ---------------------------------------------------------------- tabs

const TABS = [...document.querySelectorAll("[role=tab][data-tab]")].map((tab) => tab.dataset.tab);

function showTab(name, focus = false) {
  if (!TABS.includes(name)) name = TABS[0];
  for (const tab of TABS) {
    const button = byId(`tab-${tab}`);
    const active = tab === name;
    button.setAttribute("aria-selected", String(active));
    button.tabIndex = active ? 0 : -1;
    byId(`panel-${tab}`).hidden = !active;
    if (active && focus) button.focus();
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (name === "logs") showLogs();
  if (name === "raw") showRaw();
  if (name === "activity") showActivity();
  else hideActivity();
  if (name === "presets") showPresets();
}

function tabKeys(event) {
  const index = TABS.indexOf(event.target.dataset.tab);
  const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: TABS.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  showTab(TABS[(moves[event.key] + TABS.length) % TABS.length], true);
}

// ---------------------------------------------------------------- load / save / restart

function updateSaveBar() {
  const dirty = isDirty();
  byId("dirty-state").textContent = state.config === null ? "Config not loaded"
    : dirty ? "Unsaved changes" : "No unsaved changes";
  byId("dirty-state").classList.toggle("dirty", dirty);
  byId("save").disabled = busy || !dirty;
  byId("discard").disabled = busy || !dirty;
  byId("save-restart").disabled = busy || state.config === null;
  byId("forget-key").hidden = !storedKey();
}

async function loadConfig() {
  const [config, transformers] = await Promise.all([
    api("GET", "/api/config"), api("GET", "/api/transformers")]);
  state.transformers = Array.isArray(transformers.transformers) ? transformers.transformers : [];
  setConfig(config);
}

async function loadOrReport() {
  try {
    await loadConfig();
    return true;
  } catch (error) {
    notify(`Could not load the config from the server: ${error.message}`, "error");
    updateSaveBar();
    return false;
  }
}

function setBusy(value) {
  busy = value;
  updateSaveBar();
}

/** POST the draft; the server's answer (with its warnings), or null when it was refused. */
async function save() {
  if (rawEdited()) return saveRaw(loadOrReport); // the Raw tab's text is the newest edit
  setBusy(true);
  try {
    let answer;
    try {
      answer = await api("POST", "/api/config", { json: state.config });
    } catch (error) {
      const unplaced = showProblems(error.problems || []);
      const placed = (error.problems || []).length - unplaced.length;
      notify(placed ? `Not saved: ${placed} problem(s) are shown next to their fields (Settings).`
        + (unplaced.length ? ` ${unplaced.map((p) => p.message).join("; ")}` : "") : `Not saved: ${error.message}`, "error");
      return null;
    }
    if (await loadOrReport()) notifySaved(answer);
    return answer;
  } finally {
    setBusy(false);
  }
}

/** Poll /health until it answers or the deadline passes. */
async function waitUntilBack() {
  const deadline = Date.now() + RESTART_DEADLINE_MS;
  await pause(POLL_MS); // give the old process time to close its socket
  while (Date.now() < deadline) {
    if (await healthy()) return true;
    await pause(POLL_MS);
  }
  return false;
}

async function saveAndRestart() {
  const saved = isDirty() ? await save() : {};
  if (!saved) return;
  setBusy(true);
  try {
    notify("Restarting the server…", "info");
    try {
      await api("POST", "/api/restart");
    } catch (error) {
      notify(`Not restarted: ${error.message}`, "error");
      return;
    }
    if (!(await waitUntilBack())) {
      notify(`The server did not come back within ${RESTART_DEADLINE_MS / 1000} s. Check its log.`, "error");
      return;
    }
    if (await loadOrReport()) notifySaved(saved, "Restarted: the server is back.");
  } finally {
    setBusy(false);
  }
}

function discard() {
  if (!window.confirm("Discard the unsaved changes?")) return;
  setConfig(JSON.parse(state.saved));
  notify("Changes discarded.", "info");
}

// ---------------------------------------------------------------- start

function start() {
  onKeyNeeded(askForKey);
  byId("key-form").addEventListener("submit", submitKey);
  byId("key-dialog").addEventListener("cancel", (event) => event.preventDefault()); // nothing works without it
  byId("forget-key").addEventListener("click", () => {
    forgetKey();
    location.reload();
  });
  for (const tab of TABS) {
    byId(`tab-${tab}`).addEventListener("click", () => showTab(tab));
    byId(`tab-${tab}`).addEventListener("keydown", tabKeys);
  }
  byId("save").addEventListener("click", save);
  byId("save-restart").addEventListener("click", saveAndRestart);
  byId("discard").addEventListener("click", discard);
  window.addEventListener("beforeunload", (event) => { if (isDirty()) event.preventDefault(); });

  for (const view of [initProviders(), initRouter(), initRaw(loadOrReport), initSettings()]) onChange(view);
  initPresets();
  onChange(renderTransformers);
  onChange(updateSaveBar);
  initLogs();
  initActivity();
  updateSaveBar();
  loadOrReport().then((loaded) => {
    document.body.dataset.ready = loaded ? "true" : "error";
    showTab(location.hash.slice(1));
  });
}

start();
