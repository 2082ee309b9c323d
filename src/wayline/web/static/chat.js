// The chat playground: streams `POST /api/chat/completions` with `fetch` and renders the answer
// as it arrives; files and collections ride in the `files` field and their sources are shown
// under the answer. Performance marks `wayline:send` and `wayline:first-token` let the
// benchmark time the page's own cost.
"use strict";
(function () {
  const { api, errorText, fromBody, ApiError } = window.WaylineAPI;
  const { render } = window.WaylineMarkdown;
  const $ = (id) => document.getElementById(id);

  const form = $("chat-form");
  if (!form) return;
  const modelSelect = $("chat-model");
  const systemInput = $("chat-system");
  const temperatureInput = $("chat-temperature");
  const attachSelect = $("chat-attach");
  const attachButton = $("chat-attach-add");
  const attachedList = $("chat-attached");
  const log = $("chat-log");
  const prompt = $("chat-prompt");
  const sendButton = $("chat-send");
  const stopButton = $("chat-stop");
  const clearButton = $("chat-clear");
  const errorBox = $("chat-error");

  const history = []; // {role, content} of the finished turns
  const attached = new Map(); // "type:id" -> {type, id, name}
  let controller = null;

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function option(value, label) {
    const opt = document.createElement("option");
    opt.value = value;
    opt.textContent = label;
    return opt;
  }

  async function loadModels() {
    try {
      const body = await api("/api/models");
      const models = body.data || [];
      modelSelect.replaceChildren(...models.map((m) => option(m.id, m.name || m.id)));
      const saved = localStorage.getItem("wayline.model");
      if (saved && models.some((m) => m.id === saved)) modelSelect.value = saved;
      if (!models.length) showError("No model is available yet: an admin adds a connection first.");
    } catch (exc) {
      showError(`The models could not be loaded: ${exc.message}`);
    }
  }

  async function loadAttachables() {
    const groups = [];
    try {
      const [collections, files] = await Promise.all([
        api("/api/v1/knowledge/"),
        api("/api/v1/files/?limit=100"),
      ]);
      for (const [label, type, items] of [
        ["Collections", "collection", collections.items || []],
        ["Files", "file", files.items || []],
      ]) {
        if (!items.length) continue;
        const group = document.createElement("optgroup");
        group.label = label;
        for (const item of items) {
          const name = type === "collection" ? item.name : item.meta?.name || item.filename;
          const opt = option(`${type}:${item.id}`, name);
          opt.dataset.name = name;
          group.append(opt);
        }
        groups.push(group);
      }
    } catch (exc) {
      showError(`Files and collections could not be loaded: ${exc.message}`);
    }
    const none = option("", groups.length ? "Choose…" : "Nothing to attach yet");
    attachSelect.replaceChildren(none, ...groups);
    attachButton.disabled = !groups.length;
  }

  function renderAttached() {
    attachedList.replaceChildren(
      ...[...attached.entries()].map(([key, item]) => {
        const li = document.createElement("li");
        li.className = "chip";
        li.append(`${item.type === "collection" ? "Collection" : "File"}: ${item.name} `);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `Remove ${item.name}`);
        remove.addEventListener("click", () => {
          attached.delete(key);
          renderAttached();
        });
        li.append(remove);
        return li;
      }),
    );
  }

  attachButton.addEventListener("click", () => {
    const opt = attachSelect.selectedOptions[0];
    if (!opt || !opt.value) return;
    const [type, id] = [opt.value.slice(0, opt.value.indexOf(":")), opt.value.slice(opt.value.indexOf(":") + 1)];
    attached.set(opt.value, { type, id, name: opt.dataset.name });
    renderAttached();
    attachSelect.value = "";
  });

  function bubble(role) {
    const article = document.createElement("article");
    article.className = `msg ${role}`;
    const who = document.createElement("h3");
    who.className = "who";
    who.textContent = role === "user" ? "You" : modelSelect.value || "Assistant";
    const content = document.createElement("div");
    content.className = "content";
    article.append(who, content);
    log.append(article);
    return { article, content };
  }

  function note(article, text, cls) {
    const p = document.createElement("p");
    p.className = cls;
    p.textContent = text;
    if (cls === "error") p.setAttribute("role", "alert");
    article.append(p);
  }

  // Open WebUI's sources: one entry per file or collection, each with its chunks' text
  // (`document`) and per-chunk `metadata` naming the file.
  function renderSources(article, sources) {
    const byFile = new Map();
    for (const src of sources) {
      const docs = src.document || [];
      docs.forEach((text, i) => {
        const meta = (src.metadata || [])[i] || {};
        const name = meta.name || meta.source || src.source?.name || "Untitled";
        if (!byFile.has(name)) byFile.set(name, []);
        byFile.get(name).push(String(text));
      });
    }
    if (!byFile.size) return;
    const section = document.createElement("section");
    section.className = "sources";
    section.setAttribute("aria-label", "Sources");
    const title = document.createElement("h4");
    title.textContent = "Sources";
    const list = document.createElement("ol");
    for (const [name, texts] of byFile) {
      const li = document.createElement("li");
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `${name} (${texts.length} ${texts.length === 1 ? "excerpt" : "excerpts"})`;
      details.append(summary);
      for (const text of texts) {
        const quote = document.createElement("blockquote");
        quote.textContent = text.length > 600 ? `${text.slice(0, 600)}…` : text;
        details.append(quote);
      }
      li.append(details);
      list.append(li);
    }
    section.append(title, list);
    article.append(section);
  }

  function requestBody(messages) {
    const body = { model: modelSelect.value, stream: true, messages };
    const system = systemInput.value.trim();
    if (system) body.messages = [{ role: "system", content: system }, ...messages];
    const temperature = temperatureInput.value.trim();
    if (temperature !== "") body.temperature = Number(temperature);
    if (attached.size) body.files = [...attached.values()].map(({ type, id }) => ({ type, id }));
    return body;
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    stopButton.disabled = !busy;
  }

  // Read an SSE body, calling `onEvent` with each `data:` payload parsed.
  async function readEvents(resp, onEvent) {
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const data = frame
          .split(/\r?\n/)
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart())
          .join("\n");
        // After [DONE] the body is still read to its end: the connection is then reused.
        if (data && data !== "[DONE]") onEvent(JSON.parse(data));
      }
    }
  }

  async function send(text) {
    showError("");
    if (!modelSelect.value) {
      showError("Choose a model first.");
      return;
    }
    performance.mark("wayline:send");
    const userTurn = { role: "user", content: text };
    controller = new AbortController();
    // The request first, the page's own work while it travels.
    const sent = fetch("/api/chat/completions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(requestBody([...history, userTurn])),
      signal: controller.signal,
    });
    bubble("user").content.textContent = text;
    const { article, content } = bubble("assistant");
    article.setAttribute("aria-busy", "true");
    let answer = "";
    let pending = false;
    let first = true;
    const paint = () => {
      pending = false;
      render(content, answer);
    };
    setBusy(true);
    try {
      const resp = await sent;
      if (!resp.ok) throw new ApiError(await errorText(resp));
      await readEvents(resp, (event) => {
        if (event.error) throw new ApiError(fromBody(resp.status, { detail: event.error.message ?? event.error }));
        if (Array.isArray(event.sources)) renderSources(article, event.sources);
        const delta = event.choices?.[0]?.delta?.content;
        if (!delta) return;
        answer += delta;
        if (first) {
          // The first words at once; later ones at most once a frame.
          first = false;
          paint();
          performance.mark("wayline:first-token");
        } else if (!pending) {
          pending = true;
          requestAnimationFrame(paint);
        }
      });
      paint();
      history.push(userTurn, { role: "assistant", content: answer });
    } catch (exc) {
      paint();
      if (exc.name === "AbortError") {
        note(article, "Stopped.", "stopped");
        if (answer) history.push(userTurn, { role: "assistant", content: answer });
      } else {
        const text = exc instanceof ApiError ? exc.message : "The answer was cut off: the connection failed.";
        note(article, text, "error");
        controller.abort(); // an error event: stop reading the rest
      }
    } finally {
      article.removeAttribute("aria-busy");
      controller = null;
      setBusy(false);
    }
  }

  function submitPrompt(event) {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text || controller) return;
    send(text);
    prompt.value = "";
  }
  // Send and Enter skip the browser's form submission (its checks cost about a millisecond
  // before the request leaves); `submit` stays for the form's other fields.
  sendButton.addEventListener("click", submitPrompt);
  form.addEventListener("submit", submitPrompt);
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submitPrompt(event);
  });
  stopButton.addEventListener("click", () => controller?.abort());
  clearButton.addEventListener("click", () => {
    controller?.abort();
    history.length = 0;
    log.replaceChildren();
    showError("");
    prompt.focus();
  });
  modelSelect.addEventListener("change", () => localStorage.setItem("wayline.model", modelSelect.value));

  loadModels();
  loadAttachables();
})();
