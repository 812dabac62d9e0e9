// Upload page: drag-and-drop onto the file input and a progress bar. (The per-file outcome
// of an all-rejected upload, a 4xx, is swapped in by app.js like every 4xx fragment.)
// Without JavaScript the form is a plain multipart POST.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var zone = document.getElementById("upload-dropzone");
  var chosen = document.getElementById("upload-chosen");
  var bar = document.getElementById("upload-progress");
  var button = form.querySelector("button[type=submit]");

  function showChosen() {
    var n = input.files ? input.files.length : 0;
    chosen.textContent = n ? n + " file" + (n === 1 ? "" : "s") + " chosen" : "";
  }
  input.addEventListener("change", showChosen);

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    showChosen();
    form.requestSubmit();
  });

  form.addEventListener("htmx:xhr:loadstart", function () {
    bar.value = 0;
    bar.hidden = false;
    button.disabled = true;
  });
  form.addEventListener("htmx:xhr:progress", function (e) {
    if (e.detail.lengthComputable) {
      bar.value = Math.round((e.detail.loaded / e.detail.total) * 100);
    }
  });
  form.addEventListener("htmx:afterRequest", function () {
    button.disabled = false;
    bar.value = 100;
  });
})();
