// Upload page: drag-and-drop onto the file input and a progress bar. (The per-file outcome
// of an all-rejected upload, a 4xx, is swapped in by app.js like every 4xx fragment.)
// With S3 storage (the form carries data-direct-upload) each file goes straight to the
// bucket with a presigned POST, a few at a time, then is finalized: see directUpload().
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

  if (form.dataset.directUpload) directUpload();

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

  // --- Direct upload to S3 -------------------------------------------------------------
  // Per file: POST /api/v1/upload-url (a presigned form for one key), POST the file to the
  // bucket with XMLHttpRequest (fetch has no upload progress), POST /api/v1/images/finalize
  // (intake reads the bytes: stored, duplicate or rejected with the server's reason).
  // PARALLEL files at a time: enough to fill the pipe without starving the page.
  function directUpload() {
    var PARALLEL = 3;
    var grantUrl = form.dataset.directUpload;
    var finalizeUrl = form.dataset.finalize;
    var maxFiles = parseInt(form.dataset.maxFiles, 10) || 0;
    var maxBytes = parseInt(form.dataset.maxBytes, 10) || 0;
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var overallText = document.getElementById("upload-overall");

    function el(tag, className, text) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    }

    function human(n) {
      if (n >= 1048576) return (n / 1048576).toFixed(1).replace(/\.0$/, "") + " MB";
      if (n >= 1024) return Math.round(n / 1024) + " KB";
      return n + " bytes";
    }

    function api(url, body) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (resp.ok) return data;
          var msg = data && data.error && data.error.message;
          throw new Error(msg || "The server answered " + resp.status + ".");
        });
      }, function () {
        throw new Error("Network error: the server could not be reached. Try again.");
      });
    }

    function sendToBucket(grant, file, onProgress) {
      return new Promise(function (resolve, reject) {
        var data = new FormData();
        Object.keys(grant.fields).forEach(function (k) { data.append(k, grant.fields[k]); });
        data.append("file", file);  // S3 wants the file last
        var xhr = new XMLHttpRequest();
        // The size-limited presigned POST form (post_url + fields); upload_url is the
        // seed's presigned PUT, which cannot cap the size at the bucket.
        xhr.open("POST", grant.post_url || grant.upload_url);
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) onProgress(e.loaded, e.total);
        });
        xhr.addEventListener("load", function () {
          if (xhr.status >= 200 && xhr.status < 300) resolve();
          else if (/EntityTooLarge/.test(xhr.responseText || "")) {
            reject(new Error("The file is too large: the limit is " + human(maxBytes) + "."));
          } else if (/EntityTooSmall/.test(xhr.responseText || "")) {
            reject(new Error("The file is empty."));
          } else {
            reject(new Error("The storage refused the file (HTTP " + xhr.status + "). Try again."));
          }
        });
        xhr.addEventListener("error", function () {
          reject(new Error("Network error: the file did not reach the storage. Try again."));
        });
        xhr.send(data);
      });
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var files = Array.prototype.slice.call(input.files || []);
      var box = document.getElementById("upload-outcomes");
      box.textContent = "";
      if (!files.length) {
        box.appendChild(el("p", "msg error", "Choose at least one image to upload."));
        return;
      }
      if (maxFiles && files.length > maxFiles) {
        box.appendChild(el("p", "msg error",
          "That is " + files.length + " files; upload at most " + maxFiles + " at a time."));
        return;
      }
      run(files, box);
    });

    function run(files, box) {
      button.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      var heading = el("h2", "", "Uploading " + files.length + " file" + (files.length === 1 ? "" : "s") + "…");
      box.appendChild(heading);
      var wrap = el("div", "table-wrap");
      var table = el("table", "upload-files");
      var head = el("thead");
      var hr = el("tr");
      ["File", "Outcome", "Progress", "Details"].forEach(function (t) { hr.appendChild(el("th", "", t)); });
      head.appendChild(hr);
      table.appendChild(head);
      var tbody = el("tbody");
      table.appendChild(tbody);
      wrap.appendChild(table);
      box.appendChild(wrap);

      var total = files.reduce(function (sum, f) { return sum + (f.size || 1); }, 0);
      var sent = files.map(function () { return 0; });
      var done = 0;
      var results = [];
      function overall() {
        var loaded = sent.reduce(function (a, b) { return a + b; }, 0);
        bar.value = Math.round((loaded / total) * 100);
        overallText.textContent = done + " of " + files.length + " done";
      }

      var rows = files.map(function (file, i) {
        var tr = el("tr");
        tr.dataset.file = file.name;
        tr.appendChild(el("td", "", file.name));
        var outcomeCell = el("td");
        var badge = el("span", "badge pending", "waiting");
        outcomeCell.appendChild(badge);
        tr.appendChild(outcomeCell);
        var cell = el("td");
        var progress = el("progress", "file-progress");
        progress.max = 100;
        progress.value = 0;
        progress.setAttribute("aria-label", "Upload of " + file.name);
        cell.appendChild(progress);
        tr.appendChild(cell);
        var details = el("td");
        tr.appendChild(details);
        tbody.appendChild(tr);
        return { file: file, index: i, badge: badge, details: details, progress: progress };
      });

      function finish(row, outcome, detail, image) {
        row.badge.className = "badge " + outcome;
        row.badge.textContent = outcome;
        row.details.textContent = "";
        if (image) {
          var a = el("a", "", image.width + " × " + image.height + " " + image.format);
          a.href = form.dataset.detailPrefix + image.id + "/";
          row.details.appendChild(a);
          if (outcome === "duplicate") row.details.appendChild(document.createTextNode(" — already in your gallery"));
        } else {
          row.details.textContent = detail;
        }
        sent[row.index] = row.file.size || 1;
        done += 1;
        results[row.index] = { outcome: outcome, image: image };
        overall();
      }

      function one(row) {
        var file = row.file;
        if (maxBytes && file.size > maxBytes) {
          finish(row, "rejected", "The file is too large (" + human(file.size) + "); the limit is " + human(maxBytes) + ".");
          return Promise.resolve();
        }
        if (!file.size) {
          finish(row, "rejected", "The file is empty (0 bytes).");
          return Promise.resolve();
        }
        row.badge.textContent = "uploading";
        return api(grantUrl, { filename: file.name, content_type: file.type || "" })
          .then(function (grant) {
            return sendToBucket(grant, file, function (loaded, tot) {
              row.progress.value = Math.round((loaded / tot) * 100);
              sent[row.index] = Math.min(loaded, file.size);
              overall();
            }).then(function () {
              row.progress.value = 100;
              row.badge.textContent = "checking";
              return api(finalizeUrl, { key: grant.key, filename: file.name });
            });
          })
          .then(function (final) {
            finish(row, final.outcome, "", final.image);
          }, function (err) {
            finish(row, "rejected", err.message);
          });
      }

      var queue = rows.slice();
      function worker() {
        var row = queue.shift();
        if (!row) return Promise.resolve();
        return one(row).then(worker);
      }
      var workers = [];
      for (var w = 0; w < Math.min(PARALLEL, rows.length); w++) workers.push(worker());
      overall();
      Promise.all(workers).then(function () {
        button.disabled = false;
        bar.value = 100;
        summarize(box, heading, results);
      });
    }

    function summarize(box, heading, results) {
      var counts = { stored: 0, duplicate: 0, rejected: 0 };
      var ids = [];
      results.forEach(function (r) {
        counts[r.outcome] = (counts[r.outcome] || 0) + 1;
        if (r.image && ids.indexOf(r.image.id) === -1) ids.push(r.image.id);
      });
      heading.textContent = counts.stored + " stored, " + counts.duplicate + " duplicate" +
        (counts.duplicate === 1 ? "" : "s") + ", " + counts.rejected + " rejected";
      var p = el("p", "row");
      if (ids.length) {
        var classify = el("a", "btn primary", "Classify these " + ids.length);
        classify.href = form.dataset.classify + "?" + ids.map(function (id) {
          return "image=" + encodeURIComponent(id);
        }).join("&");
        p.appendChild(classify);
      }
      var gallery = el("a", "btn", "Go to the gallery");
      gallery.href = form.dataset.detailPrefix;
      p.appendChild(gallery);
      box.appendChild(p);
      input.value = "";
      showChosen();
    }
  }
})();
