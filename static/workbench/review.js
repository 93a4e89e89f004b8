// The review workspace: player controls, span selection → flag form, highlights, keyboard grading,
// the caption diff, and autosave that never loses work. Also the queue page's "n" for next task.
//
// Saving: every mutating request goes through htmx with hx-sync="#review-page:queue all", so one
// is in flight at a time and each reads the version input (refreshed out of band by every answer)
// only when it is sent. The review form saves ~600 ms after the last change; on pagehide with
// unsaved changes the form goes out with navigator.sendBeacon so a closed tab keeps its edits.
(function () {
  "use strict";

  const SAVE_DELAY_MS = 600;
  const RATES = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  // Shortcuts stay quiet while someone types; radios, checkboxes and buttons are not typing.
  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit", "reset", "range"].includes(el.type);
  }

  // ------------------------------------------------------------------ queue page
  function initQueue() {
    const next = $("#next-task");
    if (!next) return;
    document.addEventListener("keydown", (event) => {
      if (event.key !== "n" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      event.preventDefault();
      next.click();
    });
  }

  // ------------------------------------------------------------------ text offsets (code points)
  const cpLength = (text) => { let n = 0; for (const _ of text) n += 1; return n; };
  function utf16Index(text, codePoints) {
    let i = 0, n = 0;
    for (const ch of text) { if (n === codePoints) break; i += ch.length; n += 1; }
    return i;
  }

  let leafCache = null;
  function leaves(target) {
    if (!leafCache) {
      leafCache = { caption: [], reasoning: [] };
      for (const container of $$("#review-workspace [data-target]")) {
        if (container.closest(".flag, .hint")) continue;
        const list = leafCache[container.dataset.target];
        if (!list) continue;
        for (const el of $$("[data-start]", container)) {
          const node = el.firstChild;
          const text = node && node.nodeType === 3 ? node.data : "";
          const start = Number(el.dataset.start);
          list.push({ el, node, text, start, end: start + cpLength(text) });
        }
      }
      for (const key in leafCache) leafCache[key].sort((a, b) => a.start - b.start);
    }
    return leafCache[target] || [];
  }

  function targetOf(node) {
    const el = node && (node.nodeType === 3 ? node.parentElement : node);
    const container = el && el.closest("[data-target]");
    return container && container.closest("#review-workspace") && !container.closest(".flag, .hint")
      ? container.dataset.target : null;
  }

  // A DOM boundary point → a code-point offset in its part (caption or reasoning).
  function boundaryOffset(node, offset, isEnd, target) {
    const list = leaves(target);
    const el = node.nodeType === 3 ? node.parentElement : node;
    const leaf = el && el.closest("[data-start]");
    const entry = leaf && list.find((l) => l.el === leaf);
    if (entry && node.nodeType === 3) return entry.start + cpLength(node.data.slice(0, offset));
    if (entry) return offset === 0 ? entry.start : entry.end;
    const point = document.createRange();
    point.setStart(node, offset);
    if (!isEnd) {
      for (const l of list) if (point.comparePoint(l.el, 0) >= 0) return l.start;
      return null;
    }
    for (let i = list.length - 1; i >= 0; i -= 1) {
      if (point.comparePoint(list[i].el, list[i].el.childNodes.length) <= 0) return list[i].end;
    }
    return null;
  }

  // Code-point offsets → a DOM Range over the leaves (snapping into the nearest leaf at gaps).
  function rangeFor(target, start, end) {
    const list = leaves(target);
    const first = list.find((l) => l.end > start);
    let last = null;
    for (let i = list.length - 1; i >= 0; i -= 1) if (list[i].start < end) { last = list[i]; break; }
    if (!first || !last || !first.node || !last.node) return null;
    const range = document.createRange();
    range.setStart(first.node, utf16Index(first.text, Math.max(0, start - first.start)));
    range.setEnd(last.node, utf16Index(last.text, Math.min(last.end, end) - last.start));
    return range;
  }

  function textOf(target, start, end) {
    return leaves(target).filter((l) => l.end > start && l.start < end).map((l) => {
      const chars = Array.from(l.text);
      return chars.slice(Math.max(0, start - l.start), Math.min(chars.length, end - l.start)).join("");
    }).join("");
  }

  function selectionSpan() {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
    const range = selection.getRangeAt(0);
    const target = targetOf(range.startContainer);
    if (!target || target !== targetOf(range.endContainer)) return null;
    let start = boundaryOffset(range.startContainer, range.startOffset, false, target);
    let end = boundaryOffset(range.endContainer, range.endOffset, true, target);
    if (start == null || end == null || end <= start) return null;
    // Trim blank space at either end: a flag points at words, not the gap after them.
    const text = Array.from(textOf(target, start, end));
    let a = 0, b = text.length;
    while (a < b && /\s/.test(text[a])) a += 1;
    while (b > a && /\s/.test(text[b - 1])) b -= 1;
    if (a === b) return null;
    return { target, start: start + a, end: start + b, text: text.slice(a, b).join("") };
  }

  // ------------------------------------------------------------------ highlights
  const canHighlight = typeof CSS !== "undefined" && CSS.highlights && typeof Highlight !== "undefined";
  function paintHighlights() {
    if (!canHighlight) return;
    const groups = { minor: [], major: [], critical: [] };
    for (const li of $$("#flag-list .flag")) {
      const range = rangeFor(li.dataset.target, Number(li.dataset.start), Number(li.dataset.end));
      if (range && groups[li.dataset.severity]) groups[li.dataset.severity].push(range);
    }
    for (const severity in groups) CSS.highlights.set(`flag-${severity}`, new Highlight(...groups[severity]));
    const hints = [];
    for (const li of $$("#hint-list .hint:not(.dismissed)")) {
      if (li.dataset.start === "") continue;
      const range = rangeFor(li.dataset.target, Number(li.dataset.start), Number(li.dataset.end));
      if (range) hints.push(range);
    }
    CSS.highlights.set("flag-hint", new Highlight(...hints));
  }
  function paintPending(span) {
    if (!canHighlight) return;
    const range = span && rangeFor(span.target, span.start, span.end);
    CSS.highlights.set("flag-pending", range ? new Highlight(range) : new Highlight());
  }

  // ------------------------------------------------------------------ player
  const player = {
    root: null,
    region: null,
    media() { return this.root && $("audio", this.root); },
    ws() { return this.root && this.root.wavesurfer; },
    time() { const m = this.media(); return m ? m.currentTime : 0; },
    seek(seconds) {
      const ws = this.ws(), media = this.media();
      if (ws) ws.setTime(Math.max(0, seconds));
      else if (media) media.currentTime = Math.max(0, seconds);
    },
    toggle() {
      const button = this.root && $("[data-play]", this.root);
      if (button) button.click();
    },
    setRate(rate) {
      const media = this.media();
      if (media) { media.playbackRate = rate; media.preservesPitch = true; }
      const select = this.root && $("[data-speed]", this.root);
      if (select) select.value = String(rate);
    },
    stepRate(direction) {
      const media = this.media();
      const current = media ? media.playbackRate : 1;
      const index = RATES.findIndex((r) => r >= current - 1e-6);
      const next = RATES[Math.min(RATES.length - 1, Math.max(0, (index < 0 ? 2 : index) + direction))];
      this.setRate(next);
    },
  };

  function initPlayer() {
    const root = $("[data-review-player]");
    if (!root) return;
    player.root = root;
    const plain = !root.hasAttribute("data-player");
    const media = $("audio", root);
    const format = (t) => `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, "0")}`;
    if (plain) {
      // No analysis yet: no waveform, but the same controls drive the <audio> element.
      const play = $("[data-play]", root);
      play.addEventListener("click", () => { if (media.paused) media.play(); else media.pause(); });
      media.addEventListener("play", () => { play.textContent = "Pause"; });
      media.addEventListener("pause", () => { play.textContent = "Play"; });
      media.addEventListener("timeupdate", () => { $("[data-time]", root).textContent = format(media.currentTime); });
    }
    root.addEventListener("click", (event) => {
      const by = event.target.closest("[data-seek-by]");
      if (by) player.seek(player.time() + Number(by.dataset.seekBy));
    });
    $("[data-speed]", root).addEventListener("change", (e) => player.setRate(Number(e.target.value)));
    const loop = $("[data-loop]", root);
    const label = $("[data-region-label]", root);
    const describe = () => {
      const r = player.region;
      label.textContent = r ? `Region ${r.start.toFixed(1)}–${r.end.toFixed(1)} s` : "Drag on the waveform to mark a region.";
    };
    root.addEventListener("player:ready", () => {
      const regions = root.regions;
      if (!regions) return;
      // The song's sections are drawn as fixed regions over the whole waveform; they would catch
      // the pointer, so a drag could never start a loop region. They stay visible, inert.
      for (const region of regions.getRegions()) if (!region.drag && region.element) region.element.style.pointerEvents = "none";
      regions.enableDragSelection({ color: "rgba(194,24,91,0.18)" });
      regions.on("region-created", (region) => {
        if (!region.drag) return; // the song's sections, drawn by the song player
        if (player.region && player.region !== region) player.region.remove();
        player.region = region;
        window.reviewRegion = () => player.region; // for tests and the console
        describe();
      });
      regions.on("region-updated", (region) => { if (region === player.region) describe(); });
    });
    // A link to a moment (the audit's drill-down: /reviews/<id>/#t=<seconds>) opens the player
    // there, once the waveform has loaded the media (loading it resets the clock) or, without a
    // waveform, once the media knows its duration.
    const moment = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (moment) {
      const at = () => player.seek(Number(moment[1]));
      if (!plain && root.dataset.loaded !== "1") root.addEventListener("player:ready", at, { once: true });
      else if (plain && media.readyState < 1) media.addEventListener("loadedmetadata", at, { once: true });
      else at();
    }
    // Loop on the media clock itself: the regions plugin's "region-out" fires only after a
    // "region-in", which a seek straight to the region's end (or a busy machine) can skip.
    media.addEventListener("timeupdate", () => {
      const r = player.region;
      if (loop.checked && r && !media.paused && media.currentTime >= r.end) player.seek(r.start);
    });
    // Turning the loop on while playing elsewhere jumps into the region; paused, it only arms it.
    loop.addEventListener("change", () => {
      const r = player.region;
      if (loop.checked && r && !media.paused && (media.currentTime < r.start || media.currentTime > r.end)) r.play();
    });
  }

  // ------------------------------------------------------------------ autosave
  const save = { seq: 0, sentSeq: 0, savedSeq: 0, timer: null, retry: null };
  const form = () => $("#review-form");
  const readOnly = () => ($("#review-page") || {}).dataset?.readOnly === "true";
  function setStatus(state, text) {
    const el = $("#save-status");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  }
  function dirty() { return save.seq !== save.savedSeq; }
  function flush() {
    clearTimeout(save.timer);
    save.timer = null;
    const f = form();
    if (f && dirty() && !readOnly()) htmx.trigger(f, "save");
  }
  function changed() {
    save.seq += 1;
    setStatus("pending", "Saving…");
    clearTimeout(save.timer);
    save.timer = setTimeout(flush, SAVE_DELAY_MS);
  }
  function beacon() {
    const f = form();
    if (!f || !dirty() || readOnly() || !navigator.sendBeacon) return;
    const data = new FormData(f);
    data.set("version", $("#review-version").value);
    navigator.sendBeacon(f.action, data);
    save.savedSeq = save.seq; // sent: do not send the same edits twice
  }

  function initAutosave() {
    document.addEventListener("input", (event) => {
      if (event.target.form === form() || (event.target.closest && event.target.closest("#review-form"))) changed();
    });
    document.addEventListener("htmx:beforeRequest", (event) => {
      if (event.detail.elt === form()) { save.sentSeq = save.seq; setStatus("pending", "Saving…"); }
    });
    document.addEventListener("htmx:afterRequest", (event) => {
      const xhr = event.detail.xhr;
      const isDraft = event.detail.elt === form() || event.detail.requestConfig?.path === form()?.getAttribute("hx-post");
      if (xhr && xhr.status === 409) {
        // The workspace now shows the saved state; nothing of ours is pending on top of it.
        save.savedSeq = save.seq = save.sentSeq = 0;
        setStatus("conflict", "Not saved: changed elsewhere");
        return;
      }
      if (!isDraft) return;
      if (event.detail.successful) {
        save.savedSeq = save.sentSeq;
        if (dirty()) setStatus("pending", "Saving…");
        $("#review-form-error") && ($("#review-form-error").textContent = "");
      } else {
        setStatus("error", "Not saved");
      }
    });
    // Network failure: say so and try again while the page lives.
    document.addEventListener("htmx:sendError", () => {
      setStatus("error", "Not saved (offline?) — retrying");
      clearTimeout(save.retry);
      save.retry = setTimeout(flush, 3000);
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") flush();
    });
    window.addEventListener("pagehide", beacon);
    // Submit checks what is saved: send pending edits first (the same queue keeps the order).
    document.addEventListener("click", (event) => {
      if (event.target.closest && event.target.closest("#submit-review")) flush();
    }, true);
    // Enter in a field must not post the page: saving is automatic.
    document.addEventListener("submit", (event) => {
      if (event.target === form()) { event.preventDefault(); flush(); }
    });
  }

  // htmx leaves 4xx answers unswapped by default; ours carry the message or the saved state.
  function initResponses() {
    document.addEventListener("htmx:beforeSwap", (event) => {
      const status = event.detail.xhr.status;
      if (status === 400 || status === 409) { event.detail.shouldSwap = true; event.detail.isError = false; }
      rememberFocus();
    });
    document.addEventListener("htmx:afterSettle", (event) => {
      const target = event.detail.target;
      if (target && target.id === "review-workspace") afterWorkspace();
      paintHighlights();
      if (target && target.id === "flag-list") focusSavedFlag();
      restoreFocus();
    });
  }

  // ------------------------------------------------------------------ focus survives swaps
  // Before a swap: the focused element's id, its name/value (radios have no unique id of their
  // own in older markup) and the ids of its ancestors, nearest first. After the swap, the first of
  // these that still exists takes the focus (a deleted flag's place goes to its list).
  let remembered = null;
  function rememberFocus() {
    const el = document.activeElement;
    if (!el || el === document.body) return;
    const ancestors = [];
    // Only containers inside the workspace: "somewhere in the page" is no place to put focus.
    for (let a = el.parentElement; a && !/^review-(workspace|page)$/.test(a.id) && a !== document.body; a = a.parentElement) {
      if (a.id) ancestors.push(a.id);
    }
    remembered = { id: el.id, name: el.name, value: el.value, tag: el.tagName, text: el.textContent, ancestors };
  }
  function focusable(el) {
    if (/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName) || el.hasAttribute("tabindex")) return el;
    const inner = $("button:not([disabled]), a[href], input:not([type=hidden]), select, textarea", el);
    if (inner) return inner;
    el.setAttribute("tabindex", "-1");
    return el;
  }
  function restoreFocus() {
    const current = document.activeElement;
    if (current && current !== document.body && document.contains(current)) { remembered = null; return; }
    const r = remembered;
    const visible = (el) => el && el.getClientRects().length > 0;
    const candidates = [];
    if (r) {
      candidates.push(r.id && document.getElementById(r.id));
      candidates.push(r.name && $$(`[name="${CSS.escape(r.name)}"]`).find((i) => i.value === r.value));
      for (const id of r.ancestors) {
        const container = document.getElementById(id);
        if (!visible(container)) continue;
        // The same kind of control with the same label (an item's "Dismiss" becomes its "Undo").
        candidates.push($$(r.tag.toLowerCase(), container).find((c) => c.textContent === r.text && visible(c)));
        candidates.push(focusable(container));
      }
    }
    candidates.push($("#review-alert"), $("#review-workspace h2"));
    const el = candidates.find(visible);
    if (el) { remembered = null; focusable(el).focus({ preventScroll: true }); }
  }

  // ------------------------------------------------------------------ flag form
  let pending = null; // the span being flagged
  let returnFocus = null;
  function flagForm() { return $("#flag-form"); }
  function openFlagForm(span, values) {
    const f = flagForm();
    if (!f || readOnly()) return;
    pending = span;
    returnFocus = document.activeElement !== document.body ? document.activeElement : null;
    f.reset();
    f.elements.target.value = span.target;
    f.elements.start.value = span.start;
    f.elements.end.value = span.end;
    f.elements.hint.value = (values && values.hint) || "";
    f.dataset.flag = (values && values.flag) || "";
    $("#flag-form-title").textContent = values && values.flag ? "Edit flag" : (values && values.hint ? "Confirm the hint as a flag" : "Flag this span");
    $("#flag-quote").textContent = span.text;
    const hintMessage = $("#flag-hint-message");
    hintMessage.hidden = !(values && values.message);
    hintMessage.textContent = (values && values.message) || "";
    if (values) {
      if (values.category) f.elements.category.value = values.category;
      if (values.severity) $(`#flag-severity-${values.severity}`).checked = true;
      f.elements.audio_start.value = values.audioStart || "";
      f.elements.audio_end.value = values.audioEnd || "";
      f.elements.correction.value = values.correction || "";
      f.elements.note.value = values.note || "";
    }
    describeCategory();
    $("#flag-form-error").textContent = "";
    f.hidden = false;
    paintPending(span);
    f.elements.category.focus();
    f.scrollIntoView({ block: "nearest" });
  }
  let focusFlag = null; // after a save with nowhere to return to: the flag just saved
  function closeFlagForm(saved) {
    const f = flagForm();
    if (!f || f.hidden) return;
    f.hidden = true;
    pending = null;
    paintPending(null);
    if (returnFocus && document.contains(returnFocus)) returnFocus.focus({ preventScroll: true });
    if (saved && (!returnFocus || document.activeElement !== returnFocus)) focusFlag = saved;
    returnFocus = null;
  }
  function focusSavedFlag() {
    if (!focusFlag) return;
    const { known, edited } = focusFlag;
    focusFlag = null;
    const li = edited ? document.getElementById(`flag-${edited}`)
      : $$("#flag-list .flag").find((item) => !known.has(item.dataset.flag));
    const button = li && $("[data-flag-go]", li);
    if (button) button.focus();
  }
  function describeCategory() {
    const select = flagForm().elements.category;
    const option = select.selectedOptions[0];
    $("#flag-category-description").textContent = option ? option.dataset.description || "" : "";
  }
  let knownFlags = new Set();
  function submitFlag() {
    const f = flagForm();
    if (!f.reportValidity()) return;
    knownFlags = new Set($$("#flag-list .flag").map((li) => li.dataset.flag));
    const url = f.dataset.flag
      ? f.dataset.updateUrl.replace(/0\/$/, `${f.dataset.flag}/`)
      : f.dataset.createUrl;
    htmx.ajax("POST", url, { source: f, target: "#flag-list", swap: "outerHTML" });
  }
  function fromPlayhead(which) {
    const f = flagForm();
    f.elements[which === "end" ? "audio_end" : "audio_start"].value = player.time().toFixed(1);
  }
  function fromRegion() {
    const f = flagForm();
    if (!player.region) { $("#flag-form-error").textContent = "Drag on the waveform to mark a region first."; return; }
    f.elements.audio_start.value = player.region.start.toFixed(1);
    f.elements.audio_end.value = player.region.end.toFixed(1);
  }
  function flagValues(li) {
    return {
      flag: li.dataset.flag, category: li.dataset.category, severity: li.dataset.severity,
      audioStart: li.dataset.audioStart, audioEnd: li.dataset.audioEnd,
      correction: li.dataset.correction, note: li.dataset.note, hint: li.dataset.hint,
    };
  }
  function spanOf(li) {
    const start = Number(li.dataset.start), end = Number(li.dataset.end);
    return { target: li.dataset.target, start, end, text: textOf(li.dataset.target, start, end) };
  }
  function showFlag(li) {
    const range = rangeFor(li.dataset.target, Number(li.dataset.start), Number(li.dataset.end));
    if (range) {
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      range.startContainer.parentElement.scrollIntoView({ block: "center", behavior: "smooth" });
    }
    if (li.dataset.audioStart !== "") player.seek(Number(li.dataset.audioStart));
  }

  function initFlags() {
    // Mouse selection opens the form; so does a keyboard selection (Shift+arrows with caret browsing).
    document.addEventListener("mouseup", (event) => {
      if (event.target.closest("#flag-form, .review-side, .review-player")) return;
      setTimeout(() => { const span = selectionSpan(); if (span) openFlagForm(span); }, 0);
    });
    document.addEventListener("keyup", (event) => {
      if (!event.shiftKey || typing(event.target)) return;
      const span = selectionSpan();
      if (span) openFlagForm(span);
    });
    document.addEventListener("submit", (event) => {
      if (event.target === flagForm()) { event.preventDefault(); submitFlag(); }
    });
    document.addEventListener("change", (event) => {
      if (event.target.id === "flag-category") describeCategory();
    });
    document.addEventListener("click", (event) => {
      const t = event.target;
      if (t.closest("[data-flag-cancel]")) closeFlagForm();
      else if (t.closest("[data-from-region]")) fromRegion();
      else if (t.closest("[data-from-playhead]")) fromPlayhead(t.closest("[data-from-playhead]").dataset.fromPlayhead);
      else if (t.closest("[data-flag-edit]")) { const li = t.closest(".flag"); openFlagForm(spanOf(li), flagValues(li)); }
      else if (t.closest("[data-flag-go]")) showFlag(t.closest(".flag"));
      else if (t.closest("[data-hint-confirm]")) {
        const li = t.closest(".hint");
        openFlagForm(spanOf(li), {
          hint: li.dataset.hint, category: li.dataset.category, severity: li.dataset.severity, message: li.dataset.message,
        });
      } else if (t.closest("[data-at]")) {
        event.preventDefault();
        player.seek(Number(t.closest("[data-at]").dataset.at));
      } else if (t.closest("[data-problem-field]")) {
        event.preventDefault();
        focusField(t.closest("[data-problem-field]").dataset.problemField);
      } else if (t.closest("[data-use]")) {
        useValue(t.closest("tr"), t.closest("[data-use]").dataset.use);
      }
    });
    document.addEventListener("htmx:afterRequest", (event) => {
      if (event.detail.elt === flagForm() && event.detail.successful) {
        closeFlagForm({ known: knownFlags, edited: flagForm().dataset.flag });
      }
    });
  }

  // A problem names a form field ("step_3", "meta_key", "siblings", "flag-12"): take the expert there.
  function focusField(field) {
    const el = document.getElementById(field.startsWith("flag-") ? field : "")
      || $(`#review-form [name="${CSS.escape(field)}"]:checked`)
      || $(`#review-form [name="${CSS.escape(field)}"]`)
      || (field === "siblings" && $("#siblings input"))
      || document.getElementById(field);
    if (!el) return;
    el.scrollIntoView({ block: "center" });
    const focusable = el.matches("li") ? $("button", el) : el;
    focusable.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ metadata
  function useValue(row, source) {
    if (!row) return;
    const shown = $(source === "analysis" ? "[data-analysis]" : "[data-model]", row);
    if (!shown) return;
    const input = $(`input[name="meta_${row.dataset.field}"]`, row);
    const other = $(source === "analysis" ? "[data-model]" : "[data-analysis]", row);
    input.value = shown.textContent;
    $("[data-source]", row).value = source;
    // Taking the model's own claim confirms it; taking the analysis over a differing claim corrects it.
    const agrees = !other || other.textContent.trim().toLowerCase() === shown.textContent.trim().toLowerCase();
    $("[data-status]", row).value = source === "model" || agrees ? "confirmed" : "corrected";
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function initMetadata() {
    document.addEventListener("input", (event) => {
      const row = event.target.closest && event.target.closest(".meta-row");
      if (!row || event.target.name !== `meta_${row.dataset.field}` || !event.isTrusted) return;
      // The expert typed a value: it is theirs, and it corrects unless it repeats a claim.
      const value = event.target.value.trim().toLowerCase();
      const same = (sel) => { const el = $(sel, row); return el && el.textContent.trim().toLowerCase() === value; };
      $("[data-source]", row).value = "expert";
      const status = $("[data-status]", row);
      status.value = same("[data-model]") ? "confirmed" : "corrected";
    });
  }

  // ------------------------------------------------------------------ caption diff (word LCS)
  function words(text) { return text.split(/(\s+)/).filter((w) => w !== ""); }
  function renderDiff() {
    const box = $("#caption-diff");
    const source = $("#original-caption");
    const area = $("#corrected_caption");
    if (!box || !source || !area) return;
    const a = words(JSON.parse(source.textContent)), b = words(area.value);
    // Trim the common head and tail so the LCS table covers only the edited middle.
    let head = 0;
    while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
    let tail = 0;
    while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
    const am = a.slice(head, a.length - tail), bm = b.slice(head, b.length - tail);
    const n = am.length, m = bm.length;
    const table = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i -= 1) for (let j = m - 1; j >= 0; j -= 1) {
      table[i][j] = am[i] === bm[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
    const ops = [];
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) { ops.push(["=", am[i]]); i += 1; j += 1; }
      else if (j < m && (i === n || table[i][j + 1] >= table[i + 1][j])) { ops.push(["+", bm[j]]); j += 1; }
      else { ops.push(["-", am[i]]); i += 1; }
    }
    const fragment = document.createDocumentFragment();
    const plain = (text) => fragment.appendChild(document.createTextNode(text));
    if (head) plain(a.slice(0, head).join(""));
    for (const [op, word] of ops) {
      if (op === "=") { plain(word); continue; }
      const el = document.createElement(op === "+" ? "ins" : "del");
      el.textContent = word; // textContent: the expert's text is never parsed as HTML
      fragment.appendChild(el);
    }
    if (tail) plain(a.slice(a.length - tail).join(""));
    box.replaceChildren(fragment);
    box.dataset.changes = String(ops.filter(([op]) => op !== "=").length);
  }
  let diffTimer = null;
  function initDiff() {
    document.addEventListener("input", (event) => {
      if (event.target.id !== "corrected_caption") return;
      clearTimeout(diffTimer);
      diffTimer = setTimeout(renderDiff, 250);
    });
  }

  // ------------------------------------------------------------------ keyboard
  function steps() { return $$("#review-workspace .step[data-step]"); }
  function aspects() { return $$("#review-workspace .aspect"); }
  function moveFocus(list, current, direction) {
    if (!list.length) return;
    const index = list.indexOf(current);
    const next = list[index < 0 ? (direction > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, index + direction))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }
  function choose(container, value) {
    const radio = $(`input[type=radio][value="${value}"]`, container);
    if (!radio || radio.matches(":disabled")) return false; // a read-only review's fieldset
    radio.checked = true;
    radio.dispatchEvent(new Event("input", { bubbles: true }));
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }
  const GRADES = { 1: "correct", 2: "incorrect", 3: "unverifiable", c: "correct", i: "incorrect", u: "unverifiable" };
  const VERDICTS = { 1: "accept", 2: "accept_with_fixes", 3: "reject" };
  let afterG = 0;

  function initKeyboard() {
    document.addEventListener("keydown", (event) => {
      // The help overlay (or any modal) owns the keyboard while it is open; Esc closes it natively.
      if ($("dialog[open]")) return;
      const key = event.key, el = event.target;
      const mod = event.ctrlKey || event.metaKey;
      const f = flagForm();
      const inFlagForm = f && !f.hidden && f.contains(el);
      if (mod && key.toLowerCase() === "s") { event.preventDefault(); flush(); return; }
      if (mod && key === "Enter") {
        event.preventDefault();
        if (inFlagForm) submitFlag(); else $("#submit-review")?.click();
        return;
      }
      if (key === "Escape" && f && !f.hidden) { event.preventDefault(); closeFlagForm(); return; }
      if (event.altKey && !mod) {
        if (f && !f.hidden) {
          const severity = { Digit1: "minor", Digit2: "major", Digit3: "critical" }[event.code];
          if (severity) { $(`#flag-severity-${severity}`).checked = true; event.preventDefault(); return; }
          if (event.code === "KeyR") { fromRegion(); event.preventDefault(); return; }
          if (event.code === "KeyP") { fromPlayhead("start"); event.preventDefault(); return; }
          if (event.code === "KeyE") { fromPlayhead("end"); event.preventDefault(); return; }
        }
        const row = el.closest && el.closest(".meta-row");
        if (row && (event.code === "KeyA" || event.code === "KeyM")) {
          useValue(row, event.code === "KeyA" ? "analysis" : "model");
          event.preventDefault();
        }
        return;
      }
      if (mod || typing(el)) return;
      if (key === "g") { afterG = Date.now(); return; } // workbench.js: "g" then a letter navigates
      if (Date.now() - afterG < 1200) { afterG = 0; return; }
      const item = el.closest && el.closest("#flag-list .flag, #hint-list .hint");
      if (item && handleItemKey(item, key)) { event.preventDefault(); return; }
      const step = el.closest && el.closest(".step[data-step]");
      const aspect = el.closest && el.closest(".aspect");
      const verdict = el.closest && el.closest("#verdict");
      const onControl = /^(BUTTON|A|INPUT|SUMMARY)$/.test(el.tagName);
      let handled = true;
      if (key === "p" || (key === " " && !onControl)) player.toggle();
      // Radios and the zoom slider keep their own arrow keys.
      else if (key === "ArrowLeft" && !["radio", "range"].includes(el.type)) player.seek(player.time() - 5);
      else if (key === "ArrowRight" && !["radio", "range"].includes(el.type)) player.seek(player.time() + 5);
      else if (key === "[" || key === "]") player.stepRate(key === "]" ? 1 : -1);
      else if (key === "r") { const loop = $("[data-loop]"); if (loop) { loop.checked = !loop.checked; loop.dispatchEvent(new Event("change")); } }
      else if (key === "j" || key === "k") moveFocus(steps(), step, key === "j" ? 1 : -1);
      else if (step && GRADES[key] && /^[123ciu]$/.test(key)) {
        if (choose(step, GRADES[key])) moveFocus(steps(), step, 1);
      } else if (aspect && /^[1-5]$/.test(key)) {
        if (choose(aspect, key)) moveFocus(aspects(), aspect, 1);
      } else if (verdict && VERDICTS[key]) choose(verdict, VERDICTS[key]);
      else if (key === "a") moveFocus(aspects(), aspect, 1);
      else if (key === "v") { const r = $("#verdict input:checked") || $("#verdict input"); r && r.focus(); }
      else if (key === "e") $("#corrected_caption")?.focus();
      else if (key === "m") $(".meta-row input[type=text]")?.focus();
      else if (key === "o") $("#siblings input")?.focus();
      else if (key === "l") $("#flag-list .flag button")?.focus();
      else if (key === "h") $("#hint-list button")?.focus();
      else if (key === "x") { const panel = $("#skip-panel"); if (panel) { panel.open = true; $("#skip_reason").focus(); } }
      else if (key === "s" && step) {
        const text = $(".step-text", step);
        const selection = window.getSelection();
        selection.selectAllChildren(text);
      } else if (key === "f") {
        const span = selectionSpan();
        if (span) openFlagForm(span);
        else if (step) {
          const list = leaves("reasoning").filter((l) => step.contains(l.el));
          if (list.length) {
            const start = list[0].start, end = list[list.length - 1].end;
            openFlagForm({ target: "reasoning", start, end, text: textOf("reasoning", start, end) });
          }
        }
      } else handled = false;
      if (handled) event.preventDefault();
    });
  }

  // In the flag list: ↓/↑ move, e edits, Delete removes. In the hints: c confirms, d dismisses.
  function handleItemKey(item, key) {
    const list = $$(item.classList.contains("flag") ? "#flag-list .flag" : "#hint-list .hint");
    const press = (selector) => { const b = $(selector, item); if (b && !b.disabled) b.click(); return !!b; };
    if (key === "ArrowDown" || key === "ArrowUp") {
      const next = list[list.indexOf(item) + (key === "ArrowDown" ? 1 : -1)];
      if (next) focusable(next).focus();
      return true;
    }
    if (item.classList.contains("flag")) {
      if (key === "e") return press("[data-flag-edit]");
      if (key === "Delete" || key === "Backspace") return press("[hx-post*='/delete/']");
      return false;
    }
    if (key === "c") return press("[data-hint-confirm]");
    if (key === "d") return press("[hx-post*='/dismiss/']");
    return false;
  }

  // ------------------------------------------------------------------ help overlay
  function initHelp() {
    const help = $("#help-overlay");
    const extra = $("#review-shortcuts-help");
    if (!help || !extra || $("[data-review-help]", help)) return;
    const section = document.createElement("div");
    section.setAttribute("data-review-help", "");
    section.appendChild(extra.content.cloneNode(true));
    help.insertBefore(section, $("form", help));
  }

  function afterWorkspace() {
    leafCache = null;
    renderDiff();
    paintHighlights();
  }

  function init() {
    initQueue();
    initHelp();
    if (!$("#review-page")) return;
    initPlayer();
    initResponses();
    initKeyboard();
    initFlags();
    if (readOnly()) { afterWorkspace(); return; }
    initAutosave();
    initMetadata();
    initDiff();
    afterWorkspace();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
