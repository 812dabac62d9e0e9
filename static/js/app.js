// Behaviour shared by every page. No inline scripts anywhere (the Content-Security-Policy
// allows only files from this origin), so everything a template needs is wired here from
// data- attributes and ids. Each block says what breaks without it.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // --- Nav: collapses into a "Menu" button under ~700 px (CSS), toggled here. --------------
  ready(function () {
    var toggle = document.querySelector(".nav-toggle");
    var bar = document.getElementById("topbar");
    if (!toggle || !bar) return;
    toggle.addEventListener("click", function () {
      var open = bar.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });

  // --- No silent failure ---------------------------------------------------------------
  // htmx 2 does not swap 4xx/5xx answers. Our views answer a bad form or upload with a 4xx
  // *fragment* carrying the reasons: swap it where the person is looking. Anything else
  // (5xx, a full error page, a dropped connection) is reported in #request-errors with the
  // server's message and a Retry button that repeats the same request.
  var lastFailed = null;

  function errorBox() { return document.getElementById("request-errors"); }

  function messageFrom(xhr) {
    var text = (xhr && xhr.responseText) || "";
    var type = (xhr && xhr.getResponseHeader("Content-Type")) || "";
    if (type.indexOf("json") !== -1) {
      try {
        var body = JSON.parse(text);
        if (body && body.error && body.error.message) return body.error.message;
      } catch (e) { /* not JSON after all */ }
    }
    if (type.indexOf("html") !== -1 && text) {
      var doc = new DOMParser().parseFromString(text, "text/html");
      var el = doc.querySelector("[data-error-message]") || doc.querySelector("h1");
      if (el && el.textContent.trim()) return el.textContent.trim();
    }
    return "The server answered " + xhr.status + (xhr.statusText ? " " + xhr.statusText : "") + ".";
  }

  function showRequestError(message, detail) {
    var box = errorBox();
    if (!box) { window.alert(message); return; }
    lastFailed = detail;
    box.textContent = "";
    var p = document.createElement("p");
    p.className = "msg error request-error";
    var span = document.createElement("span");
    span.textContent = message;
    p.appendChild(span);
    if (detail) {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.className = "btn";
      retry.textContent = "Retry";
      retry.addEventListener("click", retryLast);
      p.appendChild(retry);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn link";
    close.textContent = "Dismiss";
    close.addEventListener("click", clearRequestError);
    p.appendChild(close);
    box.appendChild(p);
  }

  function clearRequestError() {
    var box = errorBox();
    if (box) box.textContent = "";
    lastFailed = null;
  }

  function retryLast() {
    var d = lastFailed;
    clearRequestError();
    if (!d || !window.htmx) return;
    window.htmx.ajax(d.verb, d.path, { source: d.elt, target: d.target, swap: d.swap });
  }

  function failedDetail(evt) {
    var cfg = evt.detail.requestConfig || {};
    var elt = evt.detail.elt;
    return {
      verb: (cfg.verb || "get").toUpperCase(),
      path: cfg.path || (evt.detail.pathInfo && evt.detail.pathInfo.requestPath),
      elt: elt,
      target: evt.detail.target,
      swap: elt && elt.getAttribute("hx-swap") || undefined
    };
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    var status = xhr.status;
    if (status < 400) return;
    var text = xhr.responseText || "";
    var isPage = /^\s*<!doctype/i.test(text);
    var html = (xhr.getResponseHeader("Content-Type") || "").indexOf("html") !== -1;
    if (status < 500 && html && text.trim() && !isPage) {
      evt.detail.shouldSwap = true;  // a fragment with the reasons: show it in place
      evt.detail.isError = false;
      return;
    }
    evt.detail.shouldSwap = false;
    showRequestError(messageFrom(xhr), failedDetail(evt));
  });
  document.addEventListener("htmx:sendError", function (evt) {
    showRequestError("Could not reach the server (network error). Check the connection and retry.",
      failedDetail(evt));
  });
  document.addEventListener("htmx:timeout", function (evt) {
    showRequestError("The server took too long to answer.", failedDetail(evt));
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    // A request from the element that failed went through (e.g. a poll): the error is over.
    if (lastFailed && evt.detail.successful && evt.detail.elt === lastFailed.elt) {
      clearRequestError();
    }
  });

  // --- Filters follow the URL (Back/Forward restore the controls, not only the results). ---
  function syncForms() {
    var params = new URLSearchParams(window.location.search);
    document.querySelectorAll("form[data-url-sync]").forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.type === "submit" || el.type === "button" || el.type === "hidden") return;
        var value = params.get(el.name) || "";
        if (el.type === "checkbox") el.checked = value === el.value;
        else if (el.tagName === "SELECT") {
          var found = Array.prototype.some.call(el.options, function (o) { return o.value === value; });
          el.value = found ? value : (el.options.length ? el.options[0].value : "");
        } else el.value = value;
      });
    });
  }
  document.addEventListener("htmx:historyRestore", syncForms);
  window.addEventListener("popstate", function () { window.setTimeout(syncForms, 0); });
  window.addEventListener("pageshow", function (evt) { if (evt.persisted) syncForms(); });

  // --- Small things: copy buttons, confirm on plain forms, filter drawer. ------------------
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest("[data-copy]");
    if (!btn) return;
    var source = document.getElementById(btn.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () { btn.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (e) { /* selected: Ctrl+C works */ }
    }
  });
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) evt.preventDefault();
  }, true);
  ready(function () {
    // Filters sit in a <details> drawer on phones; open by default on wider screens.
    if (window.matchMedia("(max-width: 700px)").matches) {
      document.querySelectorAll("details.drawer[data-open-wide]").forEach(function (d) {
        d.open = false;
      });
    }
  });

  // --- Gallery selection: shift-click ranges, a sticky bar with the count. -----------------
  var lastBox = null;
  function selectionForm() { return document.getElementById("image-selection"); }
  function updateSelection() {
    var form = selectionForm();
    if (!form) return;
    var boxes = form.querySelectorAll("input[name=image]");
    var all = form.querySelector("input[name=all]");
    var n = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
    var count = form.querySelector("[data-selected-count]");
    var total = parseInt(form.getAttribute("data-total") || "0", 10);
    var allOn = all && all.checked;
    if (count) {
      count.textContent = allOn ? "All " + total + " selected" : n + " selected";
    }
    form.classList.toggle("has-selection", allOn || n > 0);
    form.querySelectorAll("[data-needs-selection]").forEach(function (b) {
      b.disabled = !(allOn || n > 0);
    });
    boxes.forEach(function (b) { b.closest(".tile").classList.toggle("is-selected", allOn || b.checked); });
  }
  document.addEventListener("click", function (evt) {
    var box = evt.target.closest && evt.target.closest("#image-selection input[name=image]");
    if (!box) return;
    if (evt.shiftKey && lastBox && lastBox !== box && document.contains(lastBox)) {
      var boxes = Array.prototype.slice.call(selectionForm().querySelectorAll("input[name=image]"));
      var a = boxes.indexOf(lastBox), b = boxes.indexOf(box);
      var lo = Math.min(a, b), hi = Math.max(a, b);
      for (var i = lo; i <= hi; i++) boxes[i].checked = box.checked;
    }
    lastBox = box;
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.closest && evt.target.closest("#image-selection")) updateSelection();
  });
  document.addEventListener("click", function (evt) {
    var clear = evt.target.closest && evt.target.closest("[data-clear-selection]");
    if (!clear) return;
    var form = selectionForm();
    form.querySelectorAll("input[type=checkbox]").forEach(function (b) { b.checked = false; });
    lastBox = null;
    updateSelection();
  });
  ready(updateSelection);
  document.addEventListener("htmx:afterSettle", updateSelection);

  // --- Lightbox: any link with data-lightbox opens its panel in a dialog; ←/→ move, Esc. ---
  var dialog = null, current = null;
  function links() {
    var seen = {}, out = [];
    document.querySelectorAll("a[data-lightbox]").forEach(function (a) {
      var url = a.getAttribute("data-lightbox");
      if (!seen[url]) { seen[url] = true; out.push(a); }
    });
    return out;
  }
  function ensureDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "lightbox";
    dialog.setAttribute("aria-label", "Photo viewer");
    dialog.innerHTML =
      '<div class="lightbox-bar"><button type="button" class="btn" data-lb="prev" aria-label="Previous photo">←</button>' +
      '<button type="button" class="btn" data-lb="next" aria-label="Next photo">→</button>' +
      '<button type="button" class="btn" data-lb="close" aria-label="Close viewer">Esc ✕</button></div>' +
      '<div class="lightbox-body" id="lightbox-body"></div>';
    dialog.addEventListener("click", function (evt) {
      var b = evt.target.closest("[data-lb]");
      if (b) {
        var what = b.getAttribute("data-lb");
        if (what === "close") dialog.close(); else step(what === "next" ? 1 : -1);
      } else if (evt.target === dialog) dialog.close();  // a click on the backdrop
    });
    dialog.addEventListener("keydown", function (evt) {
      if (evt.key === "ArrowRight") { evt.preventDefault(); step(1); }
      if (evt.key === "ArrowLeft") { evt.preventDefault(); step(-1); }
    });
    document.body.appendChild(dialog);
    return dialog;
  }
  function show(a) {
    current = a;
    var d = ensureDialog();
    var body = d.querySelector("#lightbox-body");
    body.setAttribute("aria-busy", "true");
    body.textContent = "Loading…";
    if (!d.open) d.showModal();
    fetch(a.getAttribute("data-lightbox"), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("The server answered " + r.status + ".");
        return r.text();
      })
      .then(function (html) {
        if (current !== a) return;
        body.innerHTML = html;
        body.removeAttribute("aria-busy");
        if (window.htmx) window.htmx.process(body);
      })
      .catch(function (err) {
        body.removeAttribute("aria-busy");
        body.textContent = "";
        var p = document.createElement("p");
        p.className = "msg error";
        p.textContent = "Could not load this photo: " + err.message + " ";
        var retry = document.createElement("button");
        retry.type = "button"; retry.className = "btn"; retry.textContent = "Retry";
        retry.addEventListener("click", function () { show(a); });
        p.appendChild(retry);
        body.appendChild(p);
      });
  }
  function step(delta) {
    var all = links();
    var i = all.indexOf(current);
    if (i === -1) {
      var url = current && current.getAttribute("data-lightbox");
      i = all.findIndex(function (a) { return a.getAttribute("data-lightbox") === url; });
    }
    var next = all[(i + delta + all.length) % all.length];
    if (next) show(next);
  }
  document.addEventListener("click", function (evt) {
    var a = evt.target.closest && evt.target.closest("a[data-lightbox]");
    if (!a || evt.ctrlKey || evt.metaKey || evt.shiftKey || evt.button !== 0) return;
    if (a.closest("dialog")) return;
    evt.preventDefault();
    show(a);
  });
})();

// Chart bars link to their (collapsed) label group: open it when followed.
(function () {
  "use strict";
  function openTarget() {
    if (!window.location.hash) return;
    var el = document.getElementById(window.location.hash.slice(1));
    if (el && el.tagName === "DETAILS") el.open = true;
  }
  window.addEventListener("hashchange", openTarget);
  document.addEventListener("DOMContentLoaded", openTarget);
})();
