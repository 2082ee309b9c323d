// The JSON API called from the playground and knowledge pages, with its errors put in words
// (the API's `detail`: a sentence, or FastAPI's list of field problems), never raw JSON.
"use strict";
(function () {
  function fromBody(status, body) {
    const detail = body && (body.detail ?? body.error?.message);
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail
        .map((d) => {
          const where = (d.loc || []).filter((p) => p !== "body").join(".");
          return where ? `${where}: ${d.msg}` : String(d.msg);
        })
        .join("; ");
    }
    return `The server answered ${status}.`;
  }

  async function errorText(resp) {
    let body = null;
    try {
      body = await resp.json();
    } catch {
      // not JSON (a proxy's page): the status says enough
    }
    if (resp.status === 401) return "Your session has ended: sign in again.";
    return fromBody(resp.status, body);
  }

  class ApiError extends Error {}

  // fetch `path` and return its JSON; an error answer throws an ApiError with the words.
  async function api(path, options = {}) {
    const init = { credentials: "same-origin", ...options };
    if (init.json !== undefined) {
      init.body = JSON.stringify(init.json);
      init.headers = { "Content-Type": "application/json", ...(init.headers || {}) };
      delete init.json;
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError("The server could not be reached. Check your connection.");
    }
    if (!resp.ok) throw new ApiError(await errorText(resp));
    return resp.status === 204 ? null : resp.json();
  }

  window.WaylineAPI = { api, errorText, fromBody, ApiError };
})();
