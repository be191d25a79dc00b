/* Talking to the JSON API with the page's cookie: CSRF token, error messages, signed-out state. */

/** Statuses after which sending the same request again can never succeed. */
export const FINAL_REFUSALS = [400, 403, 404, 409, 413, 422];

/** The message of an API error body, with the per-field messages it does not already say. */
export function errorMessage(error, status) {
  if (!error) { return `the server answered ${status}`; }
  const message = error.message || `the server answered ${status}`;
  const extra = Object.entries(error.fields || {})
    .filter(([, text]) => message.indexOf(String(text)) < 0)
    .map(([field, text]) => `${field}: ${text}`);
  return extra.length ? `${message} (${extra.join("; ")})` : message;
}

/**
 * The session's API. Dispatches "signedout" and "signedin" when a check finds the sign-in lost or back.
 */
export class Api extends EventTarget {
  constructor({ base, csrfUrl, csrfToken }) {
    super();
    this.base = base;
    this.csrfUrl = csrfUrl;
    this.csrf = csrfToken || "";
    this.signedOut = false;
  }

  /** Send a request; resolves to {ok, status, data, message}, rejects only when nothing came back. */
  async call(method, path, body) {
    const headers = { "Accept": "application/json", "X-CSRFToken": this.csrf };
    if (body) { headers["Content-Type"] = "application/json"; }
    const res = await fetch(this.base + path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => null);
    const error = data && data.error;
    return { ok: res.ok, status: res.status, data, message: res.ok ? "" : errorMessage(error, res.status) };
  }

  /** Whether an answer means the sign-in or its CSRF token has lapsed (not that the request is wrong). */
  static isAuthRefusal(res) {
    return res.status === 401 || (res.status === 400 && /csrf/i.test(res.message));
  }

  /** Fetch a fresh CSRF token; true when signed in (and the token renewed). */
  async refreshCsrf() {
    let res;
    try {
      res = await fetch(this.csrfUrl, { credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      return false;
    }
    if (res.status === 401) { this.setSignedOut(true); return false; }
    if (!res.ok) { return false; }
    const data = await res.json().catch(() => null);
    if (!data || !data.csrf_token) { return false; }
    this.csrf = data.csrf_token;
    this.setSignedOut(false);
    return true;
  }

  /** Record the sign-in state and tell listeners when it changes. */
  setSignedOut(value) {
    if (this.signedOut === value) { return; }
    this.signedOut = value;
    this.dispatchEvent(new Event(value ? "signedout" : "signedin"));
  }
}
