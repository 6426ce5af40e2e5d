// The draft config being edited, and who to tell when it changes. Views edit `state.config`
// in place and call `changed(source)`; nothing is written until Save.

export const state = {
  config: null, // the draft
  saved: "", // JSON of the config as last loaded from the server
  transformers: [], // [{name, endpoint, description}] from /api/transformers
  rawEdited: false, // the Raw tab's box holds text not yet saved
};

const listeners = [];

export function onChange(listener) {
  listeners.push(listener);
}

/** Tell every view the draft changed; `source` lets the view that made the change skip itself. */
export function changed(source = "") {
  for (const listener of listeners) listener(source);
}

export function setConfig(config) {
  state.config = config;
  state.saved = JSON.stringify(config);
  changed("load");
}

export const isDirty = () => state.config !== null && (state.rawEdited || JSON.stringify(state.config) !== state.saved);

/** The Providers array of the draft (CCR also accepts the key `providers`); `create` adds one. */
export function providersOf(config, create = false) {
  if (Array.isArray(config.Providers)) return config.Providers;
  if (Array.isArray(config.providers)) return config.providers;
  if (!create) return [];
  config.Providers = [];
  return config.Providers;
}

export function routerOf(config) {
  if (!config.Router || typeof config.Router !== "object" || Array.isArray(config.Router)) config.Router = {};
  return config.Router;
}

/** Every "provider,model" pair of the draft, in config order. */
export function modelPairs(config) {
  const pairs = [];
  for (const provider of providersOf(config)) {
    if (!provider || typeof provider.name !== "string" || !Array.isArray(provider.models)) continue;
    for (const model of provider.models) if (typeof model === "string") pairs.push(`${provider.name},${model}`);
  }
  return pairs;
}

/** A chain entry ("name" or [name, options]) as short text. */
export function chainEntryText(entry) {
  if (typeof entry === "string") return entry;
  if (Array.isArray(entry) && typeof entry[0] === "string") {
    return entry.length > 1 && entry[1] !== undefined ? `${entry[0]} ${JSON.stringify(entry[1])}` : entry[0];
  }
  return JSON.stringify(entry);
}
