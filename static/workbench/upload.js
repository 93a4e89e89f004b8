// Upload page: each dropped file goes up in its own request with its own progress bar.
// The server answers with an escaped HTML fragment (added / duplicate / rejected: why).
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const dropzone = document.getElementById("dropzone");
  const input = document.getElementById("file-input");
  const rows = document.getElementById("upload-rows");
  const maxBytes = Number(form.dataset.maxBytes);
  const queue = [];
  let busy = false;

  function humanSize(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
  }

  function addRow(file) {
    const row = document.createElement("tr");
    row.className = "upload-row";
    const name = document.createElement("td");
    name.textContent = file.name;  // textContent: a file name is user input
    const size = document.createElement("td");
    size.textContent = humanSize(file.size);
    const progressCell = document.createElement("td");
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", `Upload progress of ${file.name}`);
    progressCell.appendChild(bar);
    const result = document.createElement("td");
    result.className = "result";
    result.textContent = "Waiting…";
    row.append(name, size, progressCell, result);
    rows.appendChild(row);
    return { row, bar, result };
  }

  function enqueue(files) {
    for (const file of files) {
      const ui = addRow(file);
      if (file.size > maxBytes) {
        ui.bar.value = 0;
        ui.result.innerHTML = "";
        const div = document.createElement("div");
        div.className = "upload-result rejected";
        div.dataset.outcome = "rejected";
        div.textContent = `Rejected — ${file.name} is ${humanSize(file.size)}; the limit is ${form.dataset.maxBytesText}.`;
        ui.result.appendChild(div);
        continue;
      }
      queue.push({ file, ui });
    }
    pump();
  }

  function pump() {
    if (busy || queue.length === 0) return;
    busy = true;
    const { file, ui } = queue.shift();
    const data = new FormData(form);
    data.delete("file");
    data.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    ui.result.textContent = "Uploading…";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) ui.bar.value = Math.round((event.loaded / event.total) * 100);
    });
    xhr.upload.addEventListener("load", () => { ui.bar.value = 100; ui.result.textContent = "Checking the audio…"; });
    xhr.addEventListener("load", () => {
      // The fragment comes from a Django template with autoescaping: safe to insert.
      if (xhr.responseText && xhr.getResponseHeader("Content-Type").startsWith("text/html")) {
        ui.result.innerHTML = xhr.responseText;
      } else {
        ui.result.textContent = `Failed: the server answered ${xhr.status}.`;
      }
      done();
    });
    xhr.addEventListener("error", () => { ui.result.textContent = "Failed: the connection broke; try this file again."; done(); });
    xhr.send(data);
  }

  function done() { busy = false; pump(); }

  input.addEventListener("change", () => { enqueue(Array.from(input.files)); input.value = ""; });
  dropzone.addEventListener("click", (event) => { if (event.target === dropzone) input.click(); });
  dropzone.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); } });
  ["dragenter", "dragover"].forEach((type) => dropzone.addEventListener(type, (event) => {
    event.preventDefault(); dropzone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => dropzone.addEventListener(type, () => dropzone.classList.remove("dragging")));
  dropzone.addEventListener("drop", (event) => { event.preventDefault(); enqueue(Array.from(event.dataTransfer.files)); });
})();
