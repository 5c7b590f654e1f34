// The single-image page: file picker or drag and drop -> POST /api/v1/predict -> headline, trust in words,
// the image beside its Grad-CAM, probabilities (folded away when the model gives no answer), and a verdict form.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const input = $("file");
  const zone = $("drop-zone");
  const status = $("status");
  const error = $("error");
  const result = $("result");
  const overlay = $("overlay");
  const opacity = $("opacity");
  let answered = null; // the last answer, for the verdict
  const csrfMeta = document.querySelector("meta[name=csrf-token]");
  const csrf = csrfMeta ? { "X-CSRF-Token": csrfMeta.content } : {}; // a signed-in browser's posts carry it

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    status.textContent = "";
  }

  function bar(line, top) {
    const row = document.createElement("div");
    row.className = "bar" + (top ? " top" : "");
    row.dataset.label = line.label;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = line.name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = (100 * line.value).toFixed(1) + "%";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = line.text;
    row.append(name, track, value);
    return row;
  }

  function sentence(id, text) {
    $(id).textContent = text || "";
    $(id).hidden = !text;
  }

  function show(body) {
    const reading = body.reading;
    answered = body;
    $("image").src = "data:image/jpeg;base64," + body.image_jpeg_base64;
    $("image-under").src = $("image").src;
    overlay.src = "data:image/png;base64," + body.overlay_png_base64;
    overlay.style.opacity = opacity.value / 100;
    $("headline").className = "headline " + reading.kind;
    $("headline").dataset.kind = reading.kind;
    $("headline-text").textContent = reading.headline;
    $("headline-detail").textContent = reading.detail;
    $("headline-detail").hidden = !reading.detail;
    sentence("prediction-set-text", reading.prediction_set);
    sentence("in-scope-text", reading.in_scope);
    sentence("attention-text", reading.attention);
    sentence("attention-warning", reading.attention_warning);
    const top = Math.max(...reading.probabilities.map((line) => line.value));
    const bars = reading.probabilities.map((line) => bar(line, line.value === top));
    const secondary = reading.probabilities_secondary;
    $("probabilities-open").hidden = secondary;
    $("probabilities-folded").hidden = !secondary;
    $("probabilities-folded").open = false;
    $(secondary ? "bars-folded" : "bars").replaceChildren(...bars);
    $(secondary ? "bars" : "bars-folded").replaceChildren();
    $("overlay-caption").textContent = secondary
      ? "Where the model looked (Grad-CAM): not meaningful for an image outside its classes"
      : "Where the model looked (Grad-CAM of " + body.class_names[body.predicted_label] + ")";
    $("answer-model").textContent = body.model.name + " version " + body.model.version;
    $("served-version").textContent = body.model.version;
    $("report-link").href = "/models/" + encodeURIComponent(body.model.version) + "/report";
    if ($("upload-verdict-status")) $("upload-verdict-status").textContent = "";
    result.hidden = false;
    status.textContent = "";
  }

  async function send(file) {
    error.hidden = true;
    result.hidden = true;
    status.textContent = "Reading " + file.name + " ...";
    const form = new FormData();
    form.append("file", file);
    let response;
    try {
      response = await fetch("/api/v1/predict", { method: "POST", body: form, credentials: "same-origin", headers: csrf });
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

  async function recordVerdict() {
    const said = $("upload-verdict-status");
    if (!answered) return;
    const verdict = {
      sha256: answered.sha256,
      diagnosis: $("diagnosis").value,
      other_text: $("other_text").value || null,
      basis: $("basis").value,
      lesion_id: $("lesion_id").value || null,
      comment: $("comment").value || null,
      queue_reason: "upload",
      shown: {
        model_name: answered.model.name, model_version: answered.model.version,
        predicted_label: answered.predicted_label, probabilities: answered.probabilities,
        out_of_scope: answered.out_of_scope === undefined ? null : answered.out_of_scope,
      },
    };
    if ($("keep-image").checked) verdict.keep_image_jpeg_base64 = answered.image_jpeg_base64;
    said.textContent = "Recording ...";
    const response = await fetch("/api/v1/verdicts", {
      method: "POST", credentials: "same-origin", body: JSON.stringify(verdict),
      headers: { "Content-Type": "application/json", ...csrf },
    });
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) {
      said.className = "error";
      said.textContent = "Not recorded (" + (body ? body.reason : response.status) + "): " + (body ? body.message : "");
      return;
    }
    said.className = "ok";
    said.textContent = "Recorded as verdict " + body.verdict.id + (body.image_kept
      ? "; the image is kept with it in the review database."
      : "; the image itself was not kept.") + " ";
    const link = document.createElement("a");
    link.href = "/results/" + body.verdict.sha256;
    link.textContent = "Its page";
    said.appendChild(link);
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
  if ($("record-upload-verdict")) $("record-upload-verdict").addEventListener("click", recordVerdict);
})();
