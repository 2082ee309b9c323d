// Wayline's web UI: the JSON API from the browser, and the Alpine components of the account pages.
// Loaded (deferred) before Alpine's CSP build, which allows no inline expressions beyond property
// reads and method calls: every behaviour lives here, registered with Alpine.data.
"use strict";
(function () {
  // An API error in words: the `detail` the API sends (a string, or pydantic's list of problems).
  function describe(resp, data) {
    let detail = data && (data.detail !== undefined ? data.detail : data.error && data.error.message);
    if (detail && typeof detail === "object" && !Array.isArray(detail)) detail = detail.message || "";
    let text = "";
    if (typeof detail === "string") {
      text = detail;
    } else if (Array.isArray(detail)) {
      text = detail
        .map(function (d) {
          const field = (d.loc || []).filter(function (p) { return p !== "body"; }).join(".");
          return (field ? field + ": " : "") + (d.msg || "");
        })
        .join("; ");
    }
    if (resp.status === 429) {
      const wait = resp.headers.get("Retry-After");
      const again = wait ? " Try again in " + wait + " s." : " Try again in a moment.";
      // The limits' own message already says when to retry ("… Retry in 58s.").
      if (/retry/i.test(text)) return "Too many requests. " + text;
      return "Too many requests: " + (text || "a rate limit was reached.") + again;
    }
    return text || "The server answered " + resp.status + (resp.statusText ? " " + resp.statusText : "") + ".";
  }

  // fetch + JSON, with the session cookie (or `key` as a Bearer credential); throws an Error
  // whose message is readable and whose `status` is the HTTP status.
  async function api(method, url, body, key) {
    const init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (key) {
      init.credentials = "omit";
      init.headers.Authorization = "Bearer " + key;
    }
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(url, init);
    } catch (e) {
      throw new Error("The server could not be reached. Check the connection and try again.");
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error(describe(resp, data));
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  // A form's fields as the JSON body: empty fields left out, numbers as numbers, and fields
  // marked `data-list` (comma-separated) as lists.
  function formBody(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || (el.type === "checkbox" && !el.checked)) continue;
      const value = el.value.trim();
      if (value === "") continue;
      if (el.type === "number") body[el.name] = Number(value);
      else if (el.dataset.list !== undefined) body[el.name] = value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      else body[el.name] = el.type === "password" ? el.value : value;
    }
    return body;
  }

  // Ask htmx to reload the fragments listening for `name` (hx-trigger="<name> from:body").
  function changed(name) {
    if (window.htmx) window.htmx.trigger(document.body, name);
  }

  window.wayline = { api: api, describe: describe, formBody: formBody, changed: changed };

  document.addEventListener("alpine:init", function () {
    const Alpine = window.Alpine;

    // <form data-url data-method? data-then? data-changed? data-done?>: send the form as JSON;
    // then go to `data-then`, or announce `data-changed` to htmx fragments and say `data-done`.
    Alpine.data("apiForm", function () {
      return {
        error: "",
        done: "",
        busy: false,
        async submit(event) {
          const form = event.target;
          this.error = "";
          this.done = "";
          this.busy = true;
          try {
            await api(form.dataset.method || "POST", form.dataset.url, formBody(form));
            if (form.dataset.then) { window.location.assign(form.dataset.then); return; }
            if (form.dataset.reset !== undefined) form.reset();
            if (form.dataset.changed) changed(form.dataset.changed);
            this.done = form.dataset.done || "Saved.";
          } catch (e) {
            this.error = e.message;
          } finally {
            this.busy = false;
          }
        },
      };
    });

    Alpine.data("signout", function () {
      return {
        async run() {
          try { await api("POST", "/api/v1/auths/signout"); } catch (e) { /* signed out already */ }
          window.location.assign("/auth");
        },
      };
    });

    // One button, one API call: <div x-data="apiAction" data-url data-method? data-body?
    // data-changed> (data-body: the JSON to send).
    Alpine.data("apiAction", function () {
      return {
        error: "",
        busy: false,
        async run() {
          const el = this.$root;
          this.error = "";
          this.busy = true;
          try {
            const body = el.dataset.body ? JSON.parse(el.dataset.body) : undefined;
            await api(el.dataset.method || "POST", el.dataset.url, body);
            changed(el.dataset.changed);
          } catch (e) {
            this.error = e.message;
          } finally {
            this.busy = false;
          }
        },
      };
    });

    // Admin › Users: a role <select> that saves on change (and shows the API's refusal).
    Alpine.data("roleSelect", function () {
      return {
        error: "",
        busy: false,
        async change(event) {
          const select = event.target;
          this.error = "";
          this.busy = true;
          try {
            await api("POST", "/api/v1/users/update/role", { id: this.$root.dataset.id, role: select.value });
            changed("users-changed");
          } catch (e) {
            this.error = e.message;
            select.value = select.querySelector("option[selected]").value;
          } finally {
            this.busy = false;
          }
        },
      };
    });

    // A destructive action behind a second click: <div x-data="confirmAction" data-url
    // data-method data-changed>, with buttons calling ask / cancel / confirm.
    Alpine.data("confirmAction", function () {
      return {
        asking: false,
        error: "",
        busy: false,
        ask() { this.asking = true; this.error = ""; },
        cancel() { this.asking = false; },
        async confirm() {
          const el = this.$root;
          this.busy = true;
          try {
            await api(el.dataset.method || "DELETE", el.dataset.url);
            this.asking = false;
            changed(el.dataset.changed);
          } catch (e) {
            this.error = e.message;
          } finally {
            this.busy = false;
          }
        },
      };
    });

    // Settings › Account › API keys: create a key (shown once, with ready-to-paste snippets),
    // try it with one chat request, and reload the list.
    Alpine.data("keyForm", function () {
      return {
        error: "",
        busy: false,
        key: "",
        curl: "",
        python: "",
        tryAnswer: "",
        tryError: "",
        trying: false,
        async submit(event) {
          const form = event.target;
          this.error = "";
          this.busy = true;
          try {
            const body = formBody(form);
            const created = await api("POST", "/api/v1/auths/api_keys", body);
            this.key = created.api_key;
            this.tryAnswer = "";
            this.tryError = "";
            this.snippets("MODEL");
            form.reset();
            changed("keys-changed");
            this.snippets(await this.firstModel());
          } catch (e) {
            this.error = e.message;
          } finally {
            this.busy = false;
          }
        },
        snippets(model) {
          const base = window.location.origin + "/api";
          this.curl =
            "curl " + base + "/chat/completions \\\n" +
            "  -H \"Authorization: Bearer " + this.key + "\" \\\n" +
            "  -H \"Content-Type: application/json\" \\\n" +
            "  -d '{\"model\": \"" + model + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}'";
          this.python =
            "from openai import OpenAI\n\n" +
            "client = OpenAI(base_url=\"" + base + "\", api_key=\"" + this.key + "\")\n" +
            "reply = client.chat.completions.create(\n" +
            "    model=\"" + model + "\",\n" +
            "    messages=[{\"role\": \"user\", \"content\": \"Hello\"}],\n" +
            ")\n" +
            "print(reply.choices[0].message.content)";
        },
        // The first model the key may use (the list is not counted against its limits).
        async firstModel() {
          try {
            const listed = await api("GET", "/api/models", undefined, this.key);
            const data = listed && listed.data ? listed.data : [];
            return data.length ? data[0].id : "MODEL";
          } catch (e) {
            return "MODEL";
          }
        },
        // One chat request with the key alone (no cookie), to see it work, or be refused.
        async tryKey() {
          this.trying = true;
          this.tryAnswer = "";
          this.tryError = "";
          try {
            const model = await this.firstModel();
            if (model === "MODEL") throw new Error("This key may use no model: an administrator has to add a connection first.");
            const reply = await api("POST", "/api/chat/completions", {
              model: model,
              messages: [{ role: "user", content: "Say hello in five words." }],
              max_tokens: 32,
            }, this.key);
            const text = reply && reply.choices && reply.choices[0] && reply.choices[0].message
              ? reply.choices[0].message.content : "";
            this.tryAnswer = model + " answered: " + (text || "(an empty answer)");
          } catch (e) {
            this.tryError = e.message;
          } finally {
            this.trying = false;
          }
        },
      };
    });

    // A copy button next to the element named by data-copy (its text is copied).
    Alpine.data("copyButton", function () {
      return {
        label: "Copy",
        async copy() {
          const target = document.getElementById(this.$root.dataset.copy);
          const text = target ? target.textContent : "";
          try {
            await navigator.clipboard.writeText(text);
            this.label = "Copied";
          } catch (e) {
            // No clipboard access (an insecure origin): select it for Ctrl+C instead.
            const range = document.createRange();
            range.selectNodeContents(target);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            this.label = "Selected: press Ctrl+C";
          }
        },
      };
    });
  });
})();
