// The smoking detector's page: photos from files, drag and drop, paste or the webcam, labelled by the
// server (with a Grad-CAM overlay) or, with "Run in this browser", by the run's model.onnx on
// onnxruntime-web (WebAssembly), preprocessed exactly as the server does. No framework; this file needs
// no build step (it imports the bundled /lib/pixels.js and the compiled /lib/classify.js).

/* global document, window, navigator, fetch, FormData, URL, File, OffscreenCanvas, performance */

// The classifier convention (softmax, test-time flip, threshold), the server's own compiled module.
import { decide, positiveProbabilities, probabilities, withViews } from '/lib/classify.js';
// Decoding and the PIL-bilinear resize, shared with the Train view's worker (bundled from src/browser).
import { decodeRgba, resizeRgb, toCHW } from '/lib/pixels.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const els = {
  summary: $('model-summary'),
  details: $('model-details'),
  dropZone: $('drop-zone'),
  fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
  cameraStart: /** @type {HTMLButtonElement} */ ($('camera-start')),
  camera: $('camera'),
  video: /** @type {HTMLVideoElement} */ ($('camera-video')),
  capture: $('camera-capture'),
  cameraStop: $('camera-stop'),
  browserMode: /** @type {HTMLInputElement} */ ($('browser-mode')),
  status: $('status'),
  results: $('results'),
  empty: $('empty'),
  clear: /** @type {HTMLButtonElement} */ ($('clear')),
  template: /** @type {HTMLTemplateElement} */ ($('result-template')),
};

/** GET /v1/model: classes, threshold, preprocessing, metrics, limits. */
let meta = null;
const metaReady = fetch('/v1/model')
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`GET /v1/model: HTTP ${r.status}`))))
  .then((m) => {
    meta = m;
    showModel(m);
    return m;
  })
  .catch((e) => {
    els.summary.textContent = `Cannot read the model details: ${e.message}`;
    throw e;
  });

/** Object URLs to free on Clear. */
const urls = new Set();
const objectUrl = (blob) => {
  const u = URL.createObjectURL(blob);
  urls.add(u);
  return u;
};

const pct = (p) => `${(100 * p).toFixed(1)}%`;
const ms = (v) => `${Math.round(v)} ms`;

/** 'notsmoking' -> 'Not smoking', 'smoking' -> 'Smoking'. */
function prettyClass(name) {
  const spaced = name.replace(/^not(?=\w)/i, 'not ').replace(/[_-]+/g, ' ');
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

function backboneName(b) {
  const parts = String(b).split(/[\\/]/);
  return parts.length > 1 && /\.onnx$/i.test(b) ? parts[parts.length - 2] : parts[parts.length - 1];
}

/** The run's ROC-AUC: the binary one, or with more than two classes the one-vs-rest macro one. */
const auc = (v) => (v.roc_auc_ovr_macro !== undefined ? v.roc_auc_ovr_macro : v.roc_auc);

/** What a result's probability is of: the positive class, or with more than two classes the label. */
const probabilityOf = (label) => (meta.classes.length === 2 ? meta.positiveClass : label);

function showModel(m) {
  const v = m.metrics;
  const scores = v
    ? ` · validation accuracy ${pct(v.accuracy)}${auc(v) != null ? `, ROC AUC ${auc(v).toFixed(3)}` : ''}`
    : '';
  els.summary.textContent = `${backboneName(m.backbone)} with LoRA (rank ${m.lora.rank})${scores}`;
  const [h, w] = m.preprocess.size;
  els.details.textContent =
    `Model ${m.id}: classes ${m.classes.map(prettyClass).join(' / ')}, ` +
    `${m.classes.length === 2 ? `threshold ${m.threshold} on P(${m.positiveClass})` : 'the most probable class'}, ` +
    `input ${w}×${h}. Everything on this page is served by this server; ` +
    `nothing is fetched from elsewhere.`;
}

function setStatus(text) {
  els.status.textContent = text;
}

function syncEmpty() {
  const any = els.results.children.length > 0;
  els.empty.hidden = any;
  els.clear.disabled = !any;
}

// ---------------------------------------------------------------------------------------------------
// Result cards

function addCard(file) {
  const li = /** @type {HTMLLIElement} */ (els.template.content.firstElementChild.cloneNode(true));
  const img = /** @type {HTMLImageElement} */ (li.querySelector('.photo'));
  const photo = objectUrl(file);
  img.alt = `The photo ${file.name}`;
  // A file the browser cannot show (not an image) gets a placeholder, not a broken-image icon.
  img.addEventListener('error', () => {
    if (img.src !== photo) return;
    img.hidden = true;
    /** @type {HTMLElement} */ (li.querySelector('.no-preview')).hidden = false;
  });
  img.src = photo;
  li.querySelector('.name').textContent = file.name;
  els.results.prepend(li);
  syncEmpty();
  return { li, img, photo, name: file.name };
}

function showResult(card, r) {
  const { li } = card;
  const positive = r.label === meta.positiveClass;
  li.dataset.state = 'done';
  li.dataset.mode = r.mode;
  li.dataset.label = positive ? 'positive' : 'negative';
  li.dataset.class = r.label;
  li.dataset.probability = String(r.probability);
  li.querySelector('.badge').textContent = prettyClass(r.label);
  li.querySelector('.prob').textContent = `P(${probabilityOf(r.label)}) ${pct(r.probability)}`;
  /** @type {HTMLElement} */ (li.querySelector('.fill')).style.width = pct(r.probability);
  const mark = /** @type {HTMLElement} */ (li.querySelector('.mark'));
  mark.hidden = r.threshold === undefined;
  if (r.threshold !== undefined) mark.style.left = pct(r.threshold);
  const how = document.createElement('span');
  how.className = 'how';
  how.textContent = r.how;
  li.querySelector('.meta').replaceChildren(how, r.detail);
  li.setAttribute(
    'aria-label',
    `${card.name}: ${prettyClass(r.label)}, probability of ${probabilityOf(r.label)} ${pct(r.probability)}`,
  );
}

function showError(card, mode, message) {
  const { li } = card;
  li.dataset.state = 'error';
  li.dataset.mode = mode;
  li.querySelector('.badge').textContent = 'Could not check';
  li.querySelector('.meta').textContent = message;
  li.setAttribute('aria-label', `${card.name}: could not check: ${message}`);
}

/** Shows the Grad-CAM overlay, with a button to flip back to the photo. */
function showOverlay(card, blob) {
  const overlay = objectUrl(blob);
  card.img.src = overlay;
  const heatAlt = `${card.name} with the Grad-CAM heat map: warm colours mark the regions that raised P(${probabilityOf(card.li.dataset.class)})`;
  card.img.alt = heatAlt;
  card.li.dataset.overlay = 'yes';
  const toggle = /** @type {HTMLButtonElement} */ (card.li.querySelector('.toggle-view'));
  toggle.hidden = false;
  toggle.addEventListener('click', () => {
    const showingPhoto = toggle.getAttribute('aria-pressed') === 'true';
    toggle.setAttribute('aria-pressed', String(!showingPhoto));
    toggle.textContent = showingPhoto ? 'Show the photo' : 'Show the heat map';
    card.img.src = showingPhoto ? overlay : card.photo;
    card.img.alt = showingPhoto ? heatAlt : `The photo ${card.name}`;
  });
}

// ---------------------------------------------------------------------------------------------------
// Server mode: POST the photo to /v1/predict (label), then to /v1/explain (overlay). Photos sent
// together are batched by the server into one model call.

async function apiError(res) {
  try {
    const body = await res.json();
    return new Error(body.error?.message ?? `HTTP ${res.status}`);
  } catch {
    return new Error(`HTTP ${res.status}`);
  }
}

async function runOnServer(file, card) {
  const form = () => {
    const f = new FormData();
    f.append('file', file, file.name);
    return f;
  };
  const t0 = performance.now();
  const res = await fetch('/v1/predict', { method: 'POST', body: form() });
  if (!res.ok) throw await apiError(res);
  const r = await res.json();
  const t = r.timingMs;
  showResult(card, {
    mode: 'server',
    label: r.label,
    probability: r.probability,
    threshold: r.threshold,
    how: `Server · ${ms(t.total)}`,
    detail:
      `decode ${ms(t.decode)}, queue ${ms(t.queue)}, inference ${ms(t.inference)} (batch of ${r.batchSize}); ` +
      `round trip ${ms(performance.now() - t0)}`,
  });
  // The overlay second: with many photos, every label comes first (a browser opens only a few
  // connections per server, and Grad-CAM costs more than a prediction).
  try {
    const ex = await fetch('/v1/explain?format=png', { method: 'POST', body: form() });
    if (!ex.ok) throw await apiError(ex);
    showOverlay(card, await ex.blob());
  } catch (e) {
    card.li.querySelector('.meta').append(`; no heat map: ${e.message}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Browser mode: onnxruntime-web (WebAssembly) runs the run's merged model in this page, in the precision
// the server serves (/v1/model.onnx: model.onnx, or its fp16 or int8 export with `serve --precision`).

let browserModel = null;

function loadBrowserModel() {
  if (!browserModel) {
    browserModel = (async () => {
      const m = await metaReady;
      const t0 = performance.now();
      const ort = await import('/ort/ort.wasm.min.mjs');
      ort.env.wasm.wasmPaths = '/ort/';
      // Threads need cross-origin isolation (SharedArrayBuffer); the server sends the headers for it.
      const threads = window.crossOriginIsolated
        ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1))
        : 1;
      ort.env.wasm.numThreads = threads;
      const session = await ort.InferenceSession.create(m.onnx.url, {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
      return { ort, session, threads, loadMs: performance.now() - t0 };
    })();
    browserModel.then(
      (b) => {
        document.body.dataset.browserModel = 'ready';
        const mb = (meta.onnx.bytes / 1e6).toFixed(1);
        setStatus(
          `The ${meta.onnx.precision ?? 'fp32'} model (${mb} MB) runs in this browser: WebAssembly, ${b.threads} thread${b.threads > 1 ? 's' : ''}, loaded in ${ms(b.loadMs)}.`,
        );
      },
      (e) => {
        browserModel = null;
        document.body.dataset.browserModel = 'failed';
        setStatus(`Cannot run the model in this browser: ${e.message}`);
      },
    );
  }
  return browserModel;
}

async function runInBrowser(file, card) {
  const m = await metaReady;
  const { ort, session, threads } = await loadBrowserModel();
  const t0 = performance.now();
  const { rgba, width, height } = await decodeRgba(file, file.name, m.limits.maxPixels);
  const t1 = performance.now();
  const [h, w] = m.preprocess.size;
  const plane = h * w;
  const rgb = resizeRgb(rgba, width, height, w, h);
  const data = withViews(toCHW(rgb, m.preprocess.size, m.preprocess), w, m.tta);
  const t2 = performance.now();
  const out = await session.run({
    input: new ort.Tensor('float32', data, [data.length / (3 * plane), 3, h, w]),
  });
  const t3 = performance.now();
  const k = m.classes.length;
  const probs = probabilities(/** @type {Float32Array} */ (out.logits.data), k, m.tta);
  const said = decide(probs, k, 0, m.threshold);
  showResult(card, {
    mode: 'browser',
    label: m.classes[said],
    probability: k === 2 ? positiveProbabilities(probs, k)[0] : probs[said],
    threshold: m.threshold,
    how: `This browser · ${ms(t3 - t0)}`,
    detail:
      `decode ${ms(t1 - t0)}, resize ${ms(t2 - t1)}, inference ${ms(t3 - t2)} ` +
      `(WebAssembly, ${threads} thread${threads > 1 ? 's' : ''}); heat maps need server mode`,
  });
}

// ---------------------------------------------------------------------------------------------------
// Input: files, drag and drop, paste, webcam

async function handleFiles(list) {
  const files = [...list];
  if (files.length === 0) return;
  const inBrowser = els.browserMode.checked;
  const where = inBrowser ? 'in this browser' : 'on the server';
  const n = files.length;
  const noun = `photo${n > 1 ? 's' : ''}`;
  setStatus(`Checking ${n} ${noun} ${where}…`);
  const cards = files.map(addCard);
  const run = async (file, i) => {
    try {
      await (inBrowser ? runInBrowser(file, cards[i]) : runOnServer(file, cards[i]));
    } catch (e) {
      showError(cards[i], inBrowser ? 'browser' : 'server', e.message);
    }
  };
  if (inBrowser) for (let i = 0; i < n; i++) await run(files[i], i);
  else await Promise.all(files.map(run));
  const done = cards.filter((c) => c.li.dataset.state === 'done');
  const positives = done.filter((c) => c.li.dataset.label === 'positive').length;
  const failed = n - done.length;
  const unread = failed ? `, ${failed} could not be read` : '';
  if (meta && meta.classes.length > 2) {
    const per = meta.classes.map((c) => `${done.filter((d) => d.li.dataset.class === c).length} ${c}`);
    return setStatus(`Checked ${n} ${noun} ${where}: ${per.join(', ')}${unread}.`);
  }
  setStatus(
    `Checked ${n} ${noun} ${where}: ${positives} ${meta ? prettyClass(meta.positiveClass).toLowerCase() : 'positive'}, ` +
      `${done.length - positives} not${unread}.`,
  );
}

els.fileInput.addEventListener('change', () => {
  handleFiles(els.fileInput.files ?? []);
  els.fileInput.value = '';
});

els.dropZone.addEventListener('dragover', (e) => {
  e.preventDefault();
  els.dropZone.classList.add('dragging');
});
els.dropZone.addEventListener('dragleave', () => els.dropZone.classList.remove('dragging'));
els.dropZone.addEventListener('drop', (e) => {
  e.preventDefault();
  els.dropZone.classList.remove('dragging');
  handleFiles(e.dataTransfer?.files ?? []);
});
// A photo dropped beside the zone should not replace the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
  if (files.length > 0) handleFiles(files);
});

els.browserMode.addEventListener('change', () => {
  if (els.browserMode.checked) {
    setStatus('Loading the model into this browser…');
    loadBrowserModel();
  } else {
    setStatus('Photos now go to the server.');
  }
});

els.clear.addEventListener('click', () => {
  els.results.replaceChildren();
  for (const u of urls) URL.revokeObjectURL(u);
  urls.clear();
  setStatus('Cleared.');
  syncEmpty();
  els.fileInput.focus();
});

let stream = null;

function stopCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  els.video.srcObject = null;
  els.camera.hidden = true;
  els.cameraStart.disabled = false;
}

if (!navigator.mediaDevices?.getUserMedia) {
  els.cameraStart.disabled = true;
  els.cameraStart.title =
    'The webcam needs a secure page (https, or http on localhost); add photos from files instead.';
}

els.cameraStart.addEventListener('click', async () => {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    els.video.srcObject = stream;
    els.camera.hidden = false;
    els.cameraStart.disabled = true;
    els.capture.focus();
    setStatus('Webcam on: press "Capture photo" to check a frame.');
  } catch (e) {
    setStatus(`Cannot use the webcam: ${e.message}`);
  }
});

els.capture.addEventListener('click', async () => {
  const { videoWidth: w, videoHeight: h } = els.video;
  if (!w || !h) return setStatus('The webcam has no picture yet; try again in a moment.');
  const canvas = new OffscreenCanvas(w, h);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.drawImage(els.video, 0, 0, w, h);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
  const stamp = new Date().toTimeString().slice(0, 8).replace(/:/g, '');
  handleFiles([new File([blob], `webcam-${stamp}.jpg`, { type: 'image/jpeg' })]);
});

els.cameraStop.addEventListener('click', () => {
  stopCamera();
  setStatus('Webcam off.');
  els.cameraStart.focus();
});

syncEmpty();
