// The single-image page: file picker or drag and drop -> POST /api/v1/predict -> image, overlay, bars.
(function () {
  "use strict";
  const input = document.getElementById("file");
  const zone = document.getElementById("drop-zone");
  const status = document.getElementById("status");
  const error = document.getElementById("error");
  const result = document.getElementById("result");
  const overlay = document.getElementById("overlay");
  const opacity = document.getElementById("opacity");

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    status.textContent = "";
  }

  function bar(label, p, top) {
    const row = document.createElement("div");
    row.className = "bar" + (top ? " top" : "");
    row.dataset.label = label;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = (100 * p).toFixed(1) + "%";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = (100 * p).toFixed(1) + " %";
    row.append(name, track, value);
    return row;
  }

  function show(body) {
    document.getElementById("image").src = "data:image/jpeg;base64," + body.image_jpeg_base64;
    overlay.src = "data:image/png;base64," + body.overlay_png_base64;
    overlay.style.opacity = opacity.value / 100;
    document.getElementById("predicted-label").textContent = body.predicted_label;
    document.getElementById("predicted-probability").textContent = "(" + (100 * body.predicted_probability).toFixed(1) + " %)";
    const bars = document.getElementById("bars");
    bars.replaceChildren(...body.labels.map((label) => bar(label, body.probabilities[label], label === body.predicted_label)));
    document.getElementById("answer-model").textContent = body.model.name + " version " + body.model.version;
    document.getElementById("served-version").textContent = body.model.version;
    const trust = document.getElementById("trust");
    trust.replaceChildren();
    if (body.out_of_scope_message) {  // which signal raised the flag, in words (docs/trust.md)
      const p = document.createElement("p");
      p.className = "trust out_of_scope_message";
      p.textContent = "Out of scope: " + body.out_of_scope_message;
      trust.appendChild(p);
    }
    for (const key of ["out_of_scope", "in_scope_score", "other_diagnosis_probability", "prediction_set"]) {
      if (key in body && body[key] !== null) {
        const p = document.createElement("p");
        p.className = "trust " + key;
        p.textContent = key.replaceAll("_", " ") + ": " + JSON.stringify(body[key]);
        trust.appendChild(p);
      }
    }
    result.hidden = false;
    status.textContent = "Done.";
  }

  async function send(file) {
    error.hidden = true;
    result.hidden = true;
    status.textContent = "Reading " + file.name + " ...";
    const form = new FormData();
    form.append("file", file);
    let response;
    try {
      response = await fetch("/api/v1/predict", { method: "POST", body: form, credentials: "same-origin" });
    } catch (e) {
      showError("The server could not be reached: " + e);
      return;
    }
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) {
      const reason = body && body.reason ? body.reason : "http_" + response.status;
      const message = body && body.message ? body.message : response.statusText;
      const retry = response.headers.get("Retry-After");
      showError("This file was not read (" + reason + "): " + message + (retry ? " Try again in " + retry + " s." : ""));
      return;
    }
    show(body);
  }

  input.addEventListener("change", () => { if (input.files.length) send(input.files[0]); });
  opacity.addEventListener("input", () => { overlay.style.opacity = opacity.value / 100; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
  });
})();
