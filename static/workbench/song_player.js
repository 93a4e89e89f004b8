// Song page player: wavesurfer.js fed the precomputed peaks (the browser never decodes the
// audio, so a 2-hour track opens at once), with the beat grid, the sections and the part of the
// song the model never hears drawn over the waveform. Re-initialises after htmx swaps in the
// analysis panel (the panel is replaced when the live analysis finishes).
(function () {
  "use strict";

  function formatTime(seconds) {
    const whole = Math.round(seconds);
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? `${h}:` : "") + `${mm}:${String(s).padStart(2, "0")}`;
  }

  async function fetchJson(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  function beatGrid(wrapper, beats, downbeats, duration) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${duration} 1`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("data-beat-grid", "");
    Object.assign(svg.style, {
      position: "absolute", inset: "0", width: "100%", height: "100%", pointerEvents: "none", zIndex: "3",
    });
    // One path per kind, not one element per beat: 15,000 beats stay cheap to draw and to zoom.
    for (const [times, colour, width] of [[beats, "rgba(40,40,160,0.35)", 1], [downbeats, "rgba(160,20,20,0.7)", 2]]) {
      if (!times.length) continue;
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", times.map((t) => `M${t} 0V1`).join(""));
      path.setAttribute("stroke", colour);
      path.setAttribute("stroke-width", String(width));
      path.setAttribute("vector-effect", "non-scaling-stroke");
      svg.appendChild(path);
    }
    wrapper.appendChild(svg);
    return svg;
  }

  async function initPlayer(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    const fileUrl = (name) => root.dataset.filesUrl.replace(/x$/, encodeURIComponent(name));
    const [{ default: WaveSurfer }, { default: RegionsPlugin }, index] = await Promise.all([
      import(root.dataset.wavesurferUrl),
      import(root.dataset.regionsUrl),
      fetchJson(fileUrl("peaks.json")),
    ]);
    const duration = Number(index.duration || root.dataset.duration);
    const levels = [...index.levels].sort((a, b) => a.pixels_per_second - b.pixels_per_second);
    let level = levels[0];
    const coarse = await fetchJson(fileUrl(level.file));
    const regions = RegionsPlugin.create();
    const media = root.querySelector("audio");
    const ws = WaveSurfer.create({
      container: root.querySelector("[data-waveform]"),
      media,
      peaks: [coarse.data],
      duration,
      height: 96,
      waveColor: "#8a8fb8",
      progressColor: "#3b3f8f",
      normalize: true,
      plugins: [regions],
    });
    root.wavesurfer = ws;  // for tests and the console
    root.regions = regions;  // the review page marks loop and flag regions on the same waveform
    const time = root.querySelector("[data-time]");
    ws.on("timeupdate", (t) => { time.textContent = formatTime(t); });
    ws.on("ready", async () => {
      const sections = JSON.parse(document.getElementById("song-sections")?.textContent || "[]") || [];
      sections.forEach((s, i) => regions.addRegion({
        start: s.start, end: s.end, content: s.label, drag: false, resize: false,
        color: i % 2 ? "rgba(255,190,60,0.12)" : "rgba(60,180,255,0.12)",
      }));
      const window = Number(root.dataset.modelWindow);
      if (duration > window) {
        regions.addRegion({
          start: window, end: duration, content: "not heard by the model", drag: false, resize: false,
          color: "rgba(0,0,0,0.25)",
        });
      }
      try {
        const beats = await fetchJson(fileUrl("beats.json"));
        const grid = beatGrid(ws.getWrapper(), beats.beats || [], beats.downbeats || [], duration);
        root.querySelector("[data-beats]").addEventListener("change", (e) => {
          grid.style.display = e.target.checked ? "" : "none";
        });
      } catch (error) { console.warn("no beat grid", error); }
      root.dataset.loaded = "1";
      root.dispatchEvent(new CustomEvent("player:ready", { bubbles: true }));
    });
    root.querySelector("[data-play]").addEventListener("click", (e) => {
      ws.playPause();
      e.target.textContent = ws.isPlaying() ? "Play" : "Pause";
    });
    ws.on("play", () => { root.querySelector("[data-play]").textContent = "Pause"; });
    ws.on("pause", () => { root.querySelector("[data-play]").textContent = "Play"; });
    root.querySelector("[data-zoom]").addEventListener("change", async (e) => {
      const pxPerSec = Number(e.target.value);
      // The finest level needed for this zoom; finer peaks load only when someone zooms in.
      const wanted = levels.find((l) => l.pixels_per_second >= pxPerSec) || levels[levels.length - 1];
      if (wanted !== level) {
        const peaks = await fetchJson(fileUrl(wanted.file));
        level = wanted;
        ws.setOptions({ peaks: [peaks.data], duration });
      }
      ws.zoom(pxPerSec);
    });
    document.querySelectorAll("[data-seek]").forEach((button) => button.addEventListener("click", () => {
      ws.setTime(Number(button.dataset.seek));
    }));
  }

  function initAll() { document.querySelectorAll("[data-player]").forEach((root) => initPlayer(root).catch((error) => {
    root.dataset.error = String(error);
    console.error(error);
  })); }
  document.addEventListener("DOMContentLoaded", initAll);
  document.addEventListener("htmx:afterSettle", initAll);
})();
