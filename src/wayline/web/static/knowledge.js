// Knowledge pages: create a collection; upload files into one (several at once, or dropped)
// and follow each through processing on its status stream; remove files; a file's own page
// follows its status live too.
"use strict";
(function () {
  const { api, ApiError } = window.WaylineAPI;
  const $ = (id) => document.getElementById(id);
  const PARALLEL = 3; // uploads in flight; each holds a status stream (browsers allow 6 a host)
  const DONE = new Set(["completed", "failed", "not_found"]);

  function say(box, text) {
    box.textContent = text || "";
    box.hidden = !text;
  }

  // Follow `/api/v1/files/{id}/process/status?stream=true` until the file is done or failed.
  function follow(fileId, onStatus) {
    return new Promise((resolve) => {
      const source = new EventSource(`/api/v1/files/${encodeURIComponent(fileId)}/process/status?stream=true`);
      let last = null;
      source.onmessage = (event) => {
        last = JSON.parse(event.data);
        onStatus(last);
        if (DONE.has(last.status)) {
          source.close();
          resolve(last);
        }
      };
      source.onerror = () => {
        // The stream ended (or the server went away): one plain read says where it stands.
        source.close();
        api(`/api/v1/files/${encodeURIComponent(fileId)}/process/status`)
          .then((status) => {
            onStatus(status);
            resolve(status);
          })
          .catch((exc) => resolve({ ...(last || {}), status: "failed", error: exc.message }));
      };
    });
  }

  function progressText(status) {
    const p = status.progress || { done: 0, total: 0 };
    switch (status.status) {
      case "completed":
        return `Completed: ${p.total} ${p.total === 1 ? "chunk" : "chunks"} indexed`;
      case "failed":
        return `Failed: ${status.error || "no reason given"}`;
      case "not_found":
        return "Failed: the file was deleted";
      case "processing":
        return p.total ? `Processing: ${p.done} of ${p.total} chunks` : "Processing: reading the file";
      default:
        return "Waiting to be processed";
    }
  }

  // --- /knowledge: the new-collection form ------------------------------------------------------
  const createForm = $("collection-form");
  if (createForm) {
    const errorBox = createForm.querySelector(".error");
    createForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(createForm);
      const button = createForm.querySelector("button[type=submit]");
      button.disabled = true;
      say(errorBox, "");
      try {
        const made = await api("/api/v1/knowledge/create", {
          method: "POST",
          json: { name: data.get("name"), description: data.get("description") || "" },
        });
        window.location.assign(`/knowledge/${encodeURIComponent(made.id)}`);
      } catch (exc) {
        say(errorBox, `The collection was not created: ${exc.message}`);
        button.disabled = false;
      }
    });
  }

  // --- /knowledge/{id}: uploads with live progress, and removals --------------------------------
  const uploader = $("uploader");
  const filesBox = $("files");
  const refreshFiles = () => filesBox && window.htmx && window.htmx.trigger(filesBox, "refresh");

  if (uploader) {
    const knowledgeId = uploader.dataset.knowledgeId;
    const input = $("upload-input");
    const dropzone = $("dropzone");
    const list = $("uploads");
    const queue = [];
    let running = 0;

    function row(file) {
      const li = document.createElement("li");
      li.className = "upload";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = file.name;
      const bar = document.createElement("progress");
      bar.setAttribute("aria-label", `Progress of ${file.name}`);
      bar.max = 1;
      bar.removeAttribute("value"); // indeterminate while uploading
      const text = document.createElement("span");
      text.className = "state";
      text.setAttribute("role", "status");
      text.textContent = "Uploading";
      li.append(name, bar, text);
      list.append(li);
      return { li, name, bar, text };
    }

    function show(view, status) {
      const p = status.progress || { done: 0, total: 0 };
      if (p.total) {
        view.bar.max = p.total;
        view.bar.value = p.done;
      }
      if (status.status === "completed") {
        view.bar.max = 1;
        view.bar.value = 1;
      } else if (status.status === "failed" || status.status === "not_found") {
        view.bar.hidden = true;
      }
      view.li.dataset.status = status.status;
      view.text.textContent = progressText(status);
      view.text.classList.toggle("error", status.status === "failed");
      view.text.classList.toggle("ok", status.status === "completed");
    }

    async function handle({ file, view }) {
      const body = new FormData();
      body.append("file", file, file.name);
      body.append("metadata", JSON.stringify({ knowledge_id: knowledgeId }));
      let uploaded;
      try {
        uploaded = await api("/api/v1/files/", { method: "POST", body });
      } catch (exc) {
        show(view, { status: "failed", error: exc instanceof ApiError ? exc.message : String(exc) });
        return;
      }
      const link = document.createElement("a");
      link.href = `/files/${encodeURIComponent(uploaded.id)}`;
      link.textContent = file.name;
      view.name.replaceChildren(link);
      show(view, { status: "pending" });
      const last = await follow(uploaded.id, (status) => show(view, status));
      refreshFiles(); // done or failed: it joins the table, or leaves its waiting rows
    }

    async function pump() {
      while (running < PARALLEL && queue.length) {
        running++;
        handle(queue.shift()).finally(() => {
          running--;
          pump();
        });
      }
    }

    function add(files) {
      for (const file of files) queue.push({ file, view: row(file) });
      pump();
    }

    input.addEventListener("change", () => {
      add([...input.files]);
      input.value = "";
    });
    for (const type of ["dragenter", "dragover"]) {
      dropzone.addEventListener(type, (event) => {
        event.preventDefault();
        dropzone.classList.add("over");
      });
    }
    dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
    dropzone.addEventListener("drop", (event) => {
      event.preventDefault();
      dropzone.classList.remove("over");
      const files = [...(event.dataTransfer?.files || [])];
      if (files.length) add(files);
    });

    filesBox?.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-remove]");
      if (!button) return;
      if (!window.confirm(`Remove ${button.dataset.name} from this collection?`)) return;
      button.disabled = true;
      try {
        await api(`/api/v1/knowledge/${encodeURIComponent(knowledgeId)}/file/remove`, {
          method: "POST",
          json: { file_id: button.dataset.remove },
        });
        refreshFiles();
      } catch (exc) {
        say($("upload-error"), `${button.dataset.name} was not removed: ${exc.message}`);
        button.disabled = false;
      }
    });
  }

  // --- /files/{id}: the status, live while it is being processed ---------------------------------
  const statusCard = $("file-status");
  if (statusCard && !DONE.has(statusCard.dataset.status)) {
    const text = statusCard.querySelector(".status-text");
    const bar = statusCard.querySelector("progress");
    const count = statusCard.querySelector(".progress-text");
    const reason = statusCard.querySelector(".reason");
    follow(statusCard.dataset.fileId, (status) => {
      const p = status.progress || { done: 0, total: 0 };
      text.textContent = status.status;
      bar.max = p.total || 1;
      bar.value = status.status === "completed" ? bar.max : p.done;
      count.textContent = `${p.done} of ${p.total} chunks indexed`;
      if (status.status === "failed") say(reason, `Failed: ${status.error || "no reason given"}`);
    });
  }
})();
