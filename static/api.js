// fetch wrapper for /api/*: JSON in and out, the API's error shape turned into ApiError, and
// the API key flow of product.md §4: on a 401 the user is asked for the key once (concurrent
// calls share one prompt), it is kept in localStorage and sent as x-api-key on every call.

const KEY_STORAGE = "ccr-aio.apikey";
let askForKey = null; // (message, wasWrong) => Promise<string>, set by the page
let pendingKey = null; // the one prompt 401s are waiting on
let memoryKey = ""; // fallback when localStorage is unavailable

export class ApiError extends Error {
  constructor(status, message, type = "", problems = []) {
    super(message);
    this.status = status;
    this.type = type;
    this.problems = problems; // [{path, message}] of a refused config save
  }
}

export function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return ""; // storage disabled: the key is asked for again after a reload
  }
}

export function rememberKey(key) {
  try {
    localStorage.setItem(KEY_STORAGE, key);
  } catch {
    memoryKey = key;
  }
}

export function forgetKey() {
  memoryKey = "";
  try {
    localStorage.removeItem(KEY_STORAGE);
  } catch { /* nothing stored */ }
}

const currentKey = () => storedKey() || memoryKey;

export function onKeyNeeded(prompt) {
  askForKey = prompt;
}

async function errorFrom(response) {
  let message = `HTTP ${response.status} ${response.statusText}`.trim();
  let type = "";
  let problems = [];
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.message === "string") {
      message = body.error.message;
      type = body.error.type || "";
      if (Array.isArray(body.error.problems)) problems = body.error.problems;
    }
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, message, type, problems);
}

async function waitForKey(usedKey, error) {
  if (currentKey() !== usedKey) return; // a new key arrived meanwhile: just retry with it
  if (!pendingKey) {
    pendingKey = askForKey(error.message, Boolean(usedKey))
      .then((key) => rememberKey(key))
      .finally(() => { pendingKey = null; });
  }
  await pendingKey;
}

/**
 * Call the API. opts: {json} (sent as JSON), {form} (FormData), or {text, contentType}; {blob:
 * true} answers a Blob (a download). Resolves with the parsed JSON answer; rejects with ApiError (status 0 when the server cannot be reached).
 */
export async function api(method, path, opts = {}) {
  for (;;) {
    const key = currentKey();
    const headers = { Accept: "application/json" };
    if (key) headers["x-api-key"] = key;
    let body;
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.form !== undefined) {
      body = opts.form; // FormData: the browser sets the multipart Content-Type
    } else if (opts.text !== undefined) {
      headers["Content-Type"] = opts.contentType || "text/plain";
      body = opts.text;
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body, cache: "no-store", credentials: "omit" });
    } catch {
      throw new ApiError(0, "Cannot reach the server");
    }
    if (response.ok) return opts.blob ? response.blob() : response.json();
    const error = await errorFrom(response);
    if (response.status !== 401 || !askForKey) throw error;
    await waitForKey(key, error);
  }
}

/** True when GET /health answers {"status": "ok"} within `timeoutMs`. */
export async function healthy(timeoutMs = 2000) {
  try {
    const response = await fetch("/health", { cache: "no-store", signal: AbortSignal.timeout(timeoutMs) });
    return response.ok && (await response.json()).status === "ok";
  } catch {
    return false;
  }
}
