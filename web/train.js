// The Train view: the user's photos per class, training in a Web Worker (lib/train-worker.js, the
// project's own trainer on onnxruntime-web), live progress, then the run folder's files to download,
// predictions on new photos, and a copy saved in IndexedDB. No framework, no build step for this file.

/* global document, window, navigator, fetch, URL, Blob, File, Worker, OffscreenCanvas, ImageData, createImageBitmap, indexedDB */

import { droppedDataset } from './lib/folders.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const pct = (p) => `${(100 * p).toFixed(1)}%`;
const SHOWN_THUMBS = 24;
const DEFAULT_CLASSES = ['notsmoking', 'smoking'];
/** Fewer classes are refused (the CLI's requireClasses), so a box cannot be removed below this. */
const MIN_CLASSES = 2;

/**
 * The classes in label order, each with its photos ({ name, file, url }). A class's uid names its box's
 * elements (class-name-<uid>, photos-<uid>, ...) and stays when others are removed; its label is its place.
 */
const classes = [];
let nextUid = 0;
const classOf = (uid) => classes.find((k) => k.uid === uid);
const labelOf = (uid) => classes.findIndex((k) => k.uid === uid);
/** The class names of the model that predicts (from the worker's 'ready'). */
let predictorClasses = DEFAULT_CLASSES;
let worker = null;
let training = false;
/** The finished run's files by name (ArrayBuffer or Uint8Array), its metrics and history. */
let result = null;

function setStatus(text) {
  $('train-status').textContent = text;
}

function showError(message) {
  const el = $('train-error');
  el.textContent = message;
  el.hidden = !message;
}

// ---------------------------------------------------------------------------------------------------
// Photos

function renderClass(c) {
  const list = classOf(c).photos;
  const n = list.length;
  $(`count-${c}`).textContent = n === 0 ? 'No photos yet.' : `${n} photo${n > 1 ? 's' : ''}`;
  const ul = $(`thumbs-${c}`);
  ul.replaceChildren(
    ...list.slice(0, SHOWN_THUMBS).map((p) => {
      const li = document.createElement('li');
      const img = document.createElement('img');
      img.src = p.url;
      img.alt = p.name;
      img.loading = 'lazy';
      img.addEventListener('error', () => li.classList.add('unreadable'));
      li.append(img);
      return li;
    }),
  );
  if (n > SHOWN_THUMBS) {
    const li = document.createElement('li');
    li.className = 'more';
    li.textContent = `and ${n - SHOWN_THUMBS} more`;
    ul.append(li);
  }
  document.body.dataset[`photos${c}`] = String(n);
}

// The browser decodes the photos itself, so any format it reads is welcome (GIF and AVIF too, which the
// Node side's folder listing leaves out: src/data/folder-listing.ts). The name helps when a drop has no type.
const isImageName = (name) => /\.(jpe?g|png|webp|bmp|gif|avif)$/i.test(name);

function addPhotos(c, files) {
  leaveDataset();
  const { photos } = classOf(c);
  const known = new Set(photos.map((p) => p.name));
  for (const file of files) {
    const name = file.webkitRelativePath || file.relativePath || file.name;
    if (known.has(name) || (!file.type.startsWith('image/') && !isImageName(name))) continue;
    known.add(name);
    photos.push({ name, file, url: URL.createObjectURL(file) });
  }
  renderClass(c);
}

/** Every file under a dropped entry (folders walked), with its path from the drop; `dirs` gets each folder's path + '/'. */
async function filesOf(entry, dirs = []) {
  if (entry.isFile)
    return [
      await new Promise((resolve, reject) =>
        entry.file((f) => {
          f.relativePath = entry.fullPath.replace(/^\//, '');
          resolve(f);
        }, reject),
      ),
    ];
  dirs.push(`${entry.fullPath.replace(/^\//, '')}/`);
  const reader = entry.createReader();
  const all = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    all.push(...batch);
  }
  return (await Promise.all(all.map((e) => filesOf(e, dirs)))).flat();
}

// ---------------------------------------------------------------------------------------------------
// A whole data set folder: found and split by the CLI's own discovery (lib/folders.js)

/** The dropped data set: its files by path, every path (folders too), and what the CLI's discovery found. */
let dataset = null;

const pathOf = (file) => file.webkitRelativePath || file.relativePath || file.name;

function loadDataset(files, dirs = []) {
  for (const { uid } of classes) clearClass(uid);
  const byPath = new Map(files.map((f) => [pathOf(f), f]));
  dataset = { byPath, paths: [...byPath.keys(), ...dirs], found: null };
  refreshDataset();
}

/** Finds the dropped data set again (the seed decides the split of an unsplit folder) and shows it. */
function refreshDataset() {
  const table = $('dataset-table');
  if (!dataset) {
    table.hidden = true;
    delete table.dataset.splits;
    return;
  }
  showError('');
  try {
    dataset.found = droppedDataset(dataset.paths, Number($('seed').value));
  } catch (e) {
    dataset.found = null;
    table.hidden = true;
    delete table.dataset.splits;
    $('dataset-summary').textContent = '';
    for (const { uid } of classes) clearClass(uid);
    showError(e.message);
    return;
  }
  const ds = dataset.found;
  const all = [...ds.splits.train, ...ds.splits.val, ...ds.splits.test];
  while (classes.length < ds.classes.length) addClass('');
  while (classes.length > ds.classes.length) dropClass(classes.at(-1).uid);
  for (const [c, { uid, photos }] of classes.entries()) {
    $(`class-name-${uid}`).value = ds.classes[c];
    clearClass(uid);
    for (const [path, label] of all)
      if (label === c) {
        const file = dataset.byPath.get(path);
        photos.push({ name: path, file, url: URL.createObjectURL(file) });
      }
    renderClass(uid);
  }
  $('dataset-summary').textContent = `Data set: ${ds.layout}.`;
  const head = document.createElement('tr');
  for (const h of ['Split', ...ds.classes, 'Total'])
    head.append(Object.assign(document.createElement('th'), { scope: 'col', textContent: h }));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(
    ...['train', 'val', 'test'].map((split) => {
      const tr = document.createElement('tr');
      const rows = ds.splits[split];
      const counts = ds.classes.map((_, c) => rows.filter(([, l]) => l === c).length);
      for (const v of [split, ...counts, rows.length])
        tr.append(Object.assign(document.createElement('td'), { textContent: String(v) }));
      return tr;
    }),
  );
  table.dataset.splits = JSON.stringify(ds.splits);
  table.hidden = false;
}

/** Photos added or removed per class: the data set's folders no longer decide the split. */
function leaveDataset() {
  if (!dataset) return;
  dataset = null;
  refreshDataset();
  $('dataset-summary').textContent =
    'Photos were changed per class, so the data set folder no longer decides the split: it is 64/16/20.';
}

$('dataset-folder').addEventListener('change', () => {
  const input = $('dataset-folder');
  loadDataset([...(input.files ?? [])]);
  input.value = '';
});
/** A drop zone: `onDrop` gets the dropped file-system entries and the plain file list. */
function dropZone(zone, onDrop) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    const entries = [...(e.dataTransfer?.items ?? [])].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
    onDrop(entries, [...(e.dataTransfer?.files ?? [])]);
  });
}

dropZone($('drop-dataset'), async (entries) => {
  const dirs = [];
  loadDataset((await Promise.all(entries.map((en) => filesOf(en, dirs)))).flat(), dirs);
});
$('seed').addEventListener('change', refreshDataset);

function clearClass(c) {
  for (const p of classOf(c).photos.splice(0)) URL.revokeObjectURL(p.url);
  renderClass(c);
}

/** A new class box at the end, from the page's template, with its photo inputs, drop zone and webcam. */
function addClass(name) {
  const c = nextUid++;
  const box = $('class-template').content.firstElementChild.cloneNode(true);
  box.dataset.class = String(c);
  const part = (selector, id) => Object.assign(box.querySelector(selector), { id: `${id}-${c}` });
  part('.class-name', 'class-name').value = name;
  box.querySelector('.name-label').htmlFor = `class-name-${c}`;
  for (const kind of ['photos', 'folder']) {
    const input = part(`.${kind}-input`, kind);
    box.querySelector(`.${kind}-label`).htmlFor = input.id;
    input.addEventListener('change', () => {
      addPhotos(c, [...(input.files ?? [])]);
      input.value = '';
    });
  }
  dropZone(part('.drop-zone', 'drop'), async (entries, files) => {
    addPhotos(c, entries.length ? (await Promise.all(entries.map((en) => filesOf(en)))).flat() : files);
  });
  for (const [selector, id] of [
    ['.count', 'count'],
    ['.thumbs', 'thumbs'],
  ])
    part(selector, id);
  part('.clear', 'clear').addEventListener('click', () => {
    leaveDataset();
    clearClass(c);
  });
  part('.remove', 'remove').addEventListener('click', () => removeClass(c));
  const webcam = part('.webcam', 'webcam');
  if (noWebcam) Object.assign(webcam, { disabled: true, title: noWebcam });
  webcam.addEventListener('click', () => openCamera(c));
  classes.push({ uid: c, photos: [] });
  $('classes').append(box);
  renderClass(c);
  renumber();
  return c;
}

/** Removes a class box and its photos (a dropped data set's classes decide how many there are). */
function dropClass(c) {
  clearClass(c);
  if (stream && cameraClass === c) stopCamera();
  classes.splice(labelOf(c), 1);
  document.querySelector(`fieldset[data-class="${c}"]`).remove();
  delete document.body.dataset[`photos${c}`];
  renumber();
}

/** The user's removal: the photos per class change, and focus goes to the class now in its place. */
function removeClass(c) {
  if (classes.length <= MIN_CLASSES) return;
  const at = labelOf(c);
  leaveDataset();
  dropClass(c);
  $(`class-name-${classes[Math.min(at, classes.length - 1)].uid}`).focus();
}

/** Legends by place (with two classes the second is the positive one); removal needs more than two. */
function renumber() {
  for (const [i, { uid }] of classes.entries()) {
    const box = document.querySelector(`fieldset[data-class="${uid}"]`);
    box.querySelector('legend').textContent =
      `Class ${i + 1}${classes.length === 2 && i === 1 ? ' (the positive class)' : ''}`;
    const remove = $(`remove-${uid}`);
    remove.disabled = classes.length <= MIN_CLASSES;
    remove.setAttribute('aria-label', `Remove class ${i + 1}`);
    remove.title = remove.disabled ? `At least ${MIN_CLASSES} classes are needed` : '';
  }
  document.body.dataset.classes = String(classes.length);
}

$('add-class').addEventListener('click', () => {
  leaveDataset();
  $(`class-name-${addClass('')}`).focus();
});
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

// ---------------------------------------------------------------------------------------------------
// Webcam frames, into the class whose button opened it (getUserMedia needs https or localhost)

let stream = null;
let cameraClass = 0;
let captured = 0;

const className = (c) => $(`class-name-${c}`).value.trim() || `class ${labelOf(c) + 1}`;

function stopCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  $('camera-video').srcObject = null;
  $('camera').hidden = true;
}

/** Why the webcam buttons are off, if they are. */
const noWebcam = navigator.mediaDevices?.getUserMedia
  ? ''
  : 'The webcam needs a secure page (https, or http on localhost); add photos from files instead.';
if (noWebcam) {
  $('webcam-note').textContent = noWebcam;
  $('webcam-note').hidden = false;
}

async function openCamera(c) {
  cameraClass = c;
  $('camera-capture').textContent = `Capture a photo of ${className(c)}`;
  if (!stream) {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (e) {
      $('webcam-note').textContent = `Cannot use the webcam: ${e.message}`;
      $('webcam-note').hidden = false;
      return;
    }
    $('camera-video').srcObject = stream;
    $('camera').hidden = false;
    $('webcam-note').hidden = true;
  }
  $('camera-capture').focus();
}

$('camera-capture').addEventListener('click', async () => {
  const video = $('camera-video');
  const { videoWidth: w, videoHeight: h } = video;
  if (!w || !h) return setStatus('The webcam has no picture yet; try again in a moment.');
  const canvas = new OffscreenCanvas(w, h);
  canvas.getContext('2d').drawImage(video, 0, 0, w, h);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
  const c = cameraClass;
  const name = `webcam-${className(c)}-${Date.now()}-${++captured}.jpg`;
  addPhotos(c, [new File([blob], name, { type: 'image/jpeg' })]);
  setStatus(`Captured a photo of ${className(c)}.`);
});

$('camera-stop').addEventListener('click', () => {
  stopCamera();
  $(`webcam-${cameraClass}`)?.focus();
});

for (const name of DEFAULT_CLASSES) addClass(name);

// ---------------------------------------------------------------------------------------------------
// The backbone: the server's, or a file the user picks

/** GET v1/model says whether the server offers a backbone; a static build may ship backbone.json + .onnx. */
async function serverBackbone() {
  const m = await fetch('v1/model')
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  if (m) {
    const b = m.trainBackbone;
    return b?.url ? { url: b.url.replace(/^\//, ''), name: b.name, bytes: b.bytes } : { reason: b?.reason };
  }
  const shipped = await fetch('backbone.json')
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  if (!shipped) return { reason: 'this site ships no backbone' };
  const head = await fetch('backbone.onnx', { method: 'HEAD' });
  return { url: 'backbone.onnx', name: shipped.name, bytes: Number(head.headers.get('content-length')) };
}

const offered = serverBackbone().then((b) => {
  $('backbone-summary').textContent = b.url
    ? `Backbone: ${b.name} (${(b.bytes / 1e6).toFixed(1)} MB), from this server, or pick an ONNX file below.`
    : `No backbone from this server (${b.reason}); pick an ONNX file below.`;
  document.body.dataset.backbone = b.url ? 'server' : 'none';
  return b;
});

async function backboneBytes() {
  const picked = $('backbone-file').files?.[0];
  if (picked) return { bytes: await picked.arrayBuffer(), name: picked.name };
  const b = await offered;
  if (!b.url) throw new Error(`no backbone: ${b.reason}; pick an ONNX file under Settings`);
  const res = await fetch(b.url);
  if (!res.ok) throw new Error(`GET ${b.url}: HTTP ${res.status}`);
  return { bytes: await res.arrayBuffer(), name: res.headers.get('x-backbone-name') ?? b.name };
}

// ---------------------------------------------------------------------------------------------------
// Training

function threads() {
  const asked = Number($('threads').value) || 1;
  return window.crossOriginIsolated ? asked : 1;
}

function startWorker() {
  worker?.terminate();
  worker = new Worker(new URL('lib/train-worker.js', document.baseURI), { type: 'module' });
  worker.onmessage = (e) => onReply(e.data);
  worker.onerror = (e) => {
    showError(`The training worker failed: ${e.message}`);
    endTraining();
  };
}

function settings() {
  const size = Number($('image-size').value);
  return {
    epochs: Number($('epochs').value),
    batch: Number($('batch').value),
    lr: Number($('lr').value),
    seed: Number($('seed').value),
    ...(size ? { imageSize: [size, size] } : {}),
    augment: $('augment').checked,
    threads: threads(),
  };
}

const fmt = (v) => (v === null ? '–' : v.toFixed(4));
const history = [];

function drawCurves() {
  const svg = $('curves');
  svg.hidden = history.length === 0;
  const n = history.length;
  const maxLoss = Math.max(...history.flatMap((h) => [h.trainLoss, h.valLoss ?? 0]), 1e-9);
  const x = (i) => (n === 1 ? 150 : 10 + (280 * i) / (n - 1));
  const line = (values, scale, cls) => {
    const pts = values.map((v, i) => `${x(i).toFixed(1)},${(95 - (90 * v) / scale).toFixed(1)}`).join(' ');
    return `<polyline class="${cls}" points="${pts}" />`;
  };
  svg.innerHTML =
    line(
      history.map((h) => h.trainLoss),
      maxLoss,
      'train-loss',
    ) +
    line(
      history.map((h) => h.valLoss ?? 0),
      maxLoss,
      'val-loss',
    ) +
    line(
      history.map((h) => h.valAcc ?? 0),
      1,
      'val-acc',
    );
}

function addEpochRow(r, best) {
  history.push(r);
  const table = $('epochs-table');
  table.hidden = false;
  const tr = document.createElement('tr');
  for (const v of [
    String(r.epoch),
    fmt(r.trainLoss),
    pct(r.trainAcc),
    fmt(r.valLoss),
    r.valAcc === null ? '–' : pct(r.valAcc),
    best ? 'best so far' : '',
  ])
    tr.append(Object.assign(document.createElement('td'), { textContent: v }));
  if (best) {
    for (const row of table.tBodies[0].rows) row.classList.remove('best');
    tr.classList.add('best');
  }
  table.tBodies[0].append(tr);
  drawCurves();
}

function endTraining() {
  training = false;
  $('train').disabled = false;
  $('stop').disabled = true;
  document.body.dataset.training = 'no';
}

const seconds = (s) => (s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`);

function onReply(r) {
  if (r.type === 'status') setStatus(r.text);
  else if (r.type === 'split') {
    $('split').textContent =
      `Split: ${r.train.length} for training, ${r.val.length} for validation, ${r.test.length} for test (${r.layout}).`;
    $('split').dataset.val = JSON.stringify(r.val);
  } else if (r.type === 'step') {
    const i = r.info;
    $('progress').value = (i.epoch * i.batches + i.batch) / (i.batches * Number($('epochs').value));
    $('speed').textContent =
      `Epoch ${i.epoch + 1}, batch ${i.batch} of ${i.batches}: loss ${i.loss.toFixed(4)}, ${i.imgPerSec.toFixed(1)} img/s, about ${seconds(i.etaSeconds)} left`;
    document.body.dataset.imgPerSec = i.imgPerSec.toFixed(2);
    setStatus('Training…');
  } else if (r.type === 'epoch') addEpochRow(r.record, r.best);
  else if (r.type === 'done') {
    endTraining();
    $('progress').value = r.status === 'finished' || r.status === 'early-stopped' ? 1 : $('progress').value;
    if (!r.metrics) {
      setStatus('Stopped before the first epoch ended: there is no model to keep.');
      document.body.dataset.result = 'none';
      return;
    }
    setStatus(
      `${r.status === 'interrupted' ? 'Stopped' : 'Finished'}: kept epoch ${r.keptEpoch}; validation accuracy ${pct(r.metrics.accuracy)}, log loss ${r.metrics.log_loss.toFixed(4)}.`,
    );
    showResult({ files: r.files, zip: r.zip, metrics: r.metrics, history: r.history, savedAt: null });
  } else if (r.type === 'ready') {
    document.body.dataset.predictor = 'ready';
    predictorClasses = r.classes;
    const raised = r.classes.length === 2 ? 'the positive class' : 'the class it says';
    $('heat-note').textContent = r.noHeatMap
      ? `Predictions come without a heat map: ${r.noHeatMap}`
      : `Each prediction comes with its Grad-CAM heat map: warm colours mark what raised ${raised}.`;
  } else if (r.type === 'prediction') showPrediction(r);
  else if (r.type === 'error') {
    if (r.id !== undefined) return showPrediction({ id: r.id, error: r.message });
    showError(r.message);
    setStatus('');
    endTraining();
  }
}

$('train').addEventListener('click', async () => {
  if (training) return;
  if (dataset && !dataset.found) return refreshDataset();
  showError('');
  const names = classes.map(({ uid }) => $(`class-name-${uid}`).value.trim());
  if (names.some((n) => !n)) return showError('every class needs a name');
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined)
    return showError(
      `the classes need different names (${names.length === 2 ? 'both are' : 'two are'} '${twice}')`,
    );
  training = true;
  document.body.dataset.training = 'yes';
  $('train').disabled = true;
  $('stop').disabled = false;
  history.length = 0;
  $('epochs-table').tBodies[0].replaceChildren();
  $('epochs-table').hidden = true;
  $('curves').hidden = true;
  $('progress').value = 0;
  $('speed').textContent = '';
  setStatus('Fetching the backbone…');
  try {
    const backbone = await backboneBytes();
    startWorker();
    worker.postMessage(
      {
        type: 'train',
        backbone: backbone.bytes,
        backboneName: backbone.name,
        classes: names,
        photos: classes.flatMap((k, label) => k.photos.map((p) => ({ name: p.name, label, blob: p.file }))),
        ...(dataset?.found ? { dataset: datasetSplit(dataset.found) } : {}),
        settings: settings(),
      },
      [backbone.bytes],
    );
  } catch (e) {
    showError(e.message);
    endTraining();
  }
});

/** The dropped data set's split for the worker: photo names per split, and how it was found. */
const datasetSplit = (ds) => ({
  ...Object.fromEntries(['train', 'val', 'test'].map((k) => [k, ds.splits[k].map(([path]) => path)])),
  layout: ds.layout,
});

$('stop').addEventListener('click', () => {
  worker?.postMessage({ type: 'stop' });
  $('stop').disabled = true;
  setStatus('Stopping after this batch…');
});

// ---------------------------------------------------------------------------------------------------
// The result: downloads, predictions, IndexedDB

const urls = [];

function showResult(run) {
  result = run;
  $('result').hidden = false;
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  const link = (id, bytes, type = 'application/octet-stream') => {
    const u = URL.createObjectURL(new Blob([bytes], { type }));
    urls.push(u);
    $(id).href = u;
  };
  link('dl-adapter', run.files['adapter_model.safetensors']);
  link('dl-adapter-config', run.files['adapter_config.json'], 'application/json');
  link('dl-model', run.files['model.onnx']);
  link('dl-zip', run.zip, 'application/zip');
  const m = run.metrics;
  $('result-summary').textContent =
    `${run.savedAt ? `Saved in this browser on ${new Date(run.savedAt).toLocaleString()}. ` : ''}` +
    `Validation: accuracy ${pct(m.accuracy)} on ${m.n} photos, ` +
    (m.classes.length === 2
      ? `F1 ${m.f1.toFixed(3)}, log loss ${m.log_loss.toFixed(4)}` +
        `${m.roc_auc !== null ? `, ROC AUC ${m.roc_auc.toFixed(3)}` : ''}.`
      : `${m.classes.length} classes, macro F1 ${m.macro.f1.toFixed(3)}, log loss ${m.log_loss.toFixed(4)}` +
        `${m.roc_auc_ovr_macro !== null ? `, ROC AUC (one-vs-rest, macro) ${m.roc_auc_ovr_macro.toFixed(3)}` : ''}.`);
  $('result-summary').dataset.accuracy = String(m.accuracy);
  $('result-summary').dataset.logLoss = String(m.log_loss);
  $('save').disabled = Boolean(run.savedAt);
  $('forget').hidden = !run.savedAt;
  document.body.dataset.result = run.savedAt ? 'saved' : 'trained';
}

function db() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('smoker-lora', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('models');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

async function store(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction('models', mode);
    const req = fn(tx.objectStore('models'));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
  });
}

$('save').addEventListener('click', async () => {
  if (!result) return;
  const saved = { ...result, savedAt: Date.now() };
  try {
    await store('readwrite', (s) => s.put(saved, 'model'));
    showResult(saved);
    setStatus('Saved in this browser: it stays after a reload.');
  } catch (e) {
    showError(`Cannot save in this browser: ${e.message}`);
  }
});

$('forget').addEventListener('click', async () => {
  await store('readwrite', (s) => s.delete('model'));
  $('forget').hidden = true;
  $('save').disabled = false;
  result = { ...result, savedAt: null };
  setStatus('The saved model is forgotten.');
});

let nextId = 0;
const pending = new Map();

/** What a prediction's probability is of: the positive class, or with more than two classes its label. */
const probabilityOf = (label) => (predictorClasses.length === 2 ? predictorClasses[1] : label);

function showPrediction(r) {
  const card = pending.get(r.id);
  if (!card) return;
  pending.delete(r.id);
  const { li } = card;
  li.dataset.state = r.error ? 'error' : 'done';
  const text = li.querySelector('.verdict');
  if (r.error) text.textContent = `could not check: ${r.error}`;
  else {
    li.dataset.label = r.label;
    li.dataset.probability = String(r.probability);
    text.textContent = `${r.label}, P(${probabilityOf(r.label)}) ${pct(r.probability)} (${Math.round(r.ms)} ms)`;
    if (r.heat) showOverlay(card, r.heat).catch((e) => text.append(`; no heat map: ${e.message}`));
  }
}

/**
 * The Grad-CAM map over the photo, as the server's overlay: the map stretched over the whole photo
 * (the model saw it resized without crop) and blended half and half; a button flips back to the photo.
 */
async function showOverlay(card, heat) {
  const photo = await createImageBitmap(card.file, { imageOrientation: 'from-image' });
  const layer = new OffscreenCanvas(heat.width, heat.height);
  layer.getContext('2d').putImageData(new ImageData(heat.rgba, heat.width, heat.height), 0, 0);
  const canvas = new OffscreenCanvas(photo.width, photo.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(photo, 0, 0);
  ctx.globalAlpha = 0.5;
  ctx.drawImage(layer, 0, 0, photo.width, photo.height);
  photo.close();
  const overlay = URL.createObjectURL(await canvas.convertToBlob({ type: 'image/png' }));
  const heatAlt = `${card.file.name} with the Grad-CAM heat map: warm colours mark the regions that raised P(${probabilityOf(card.li.dataset.label)})`;
  card.img.src = overlay;
  card.img.alt = heatAlt;
  card.li.dataset.overlay = 'yes';
  card.li.dataset.heatMean = String(heat.map.reduce((a, v) => a + v, 0) / heat.map.length);
  const toggle = Object.assign(document.createElement('button'), {
    type: 'button',
    className: 'button subtle toggle-view',
    textContent: 'Show the photo',
  });
  toggle.setAttribute('aria-pressed', 'false');
  toggle.addEventListener('click', () => {
    const showingHeat = toggle.getAttribute('aria-pressed') === 'false';
    toggle.setAttribute('aria-pressed', String(showingHeat));
    toggle.textContent = showingHeat ? 'Show the heat map' : 'Show the photo';
    card.img.src = showingHeat ? card.photo : overlay;
    card.img.alt = showingHeat ? `The photo ${card.file.name}` : heatAlt;
  });
  card.li.append(toggle);
}

$('predict-input').addEventListener('change', () => {
  const input = $('predict-input');
  for (const file of [...(input.files ?? [])]) {
    const id = nextId++;
    const li = document.createElement('li');
    li.dataset.state = 'pending';
    const photo = URL.createObjectURL(file);
    const img = Object.assign(document.createElement('img'), { src: photo, alt: file.name });
    const name = Object.assign(document.createElement('span'), { className: 'name', textContent: file.name });
    const verdict = Object.assign(document.createElement('span'), {
      className: 'verdict',
      textContent: 'Working…',
    });
    li.append(img, name, verdict);
    $('predictions').prepend(li);
    pending.set(id, { li, img, file, photo });
    worker.postMessage({ type: 'predict', id, name: file.name, blob: file });
  }
  input.value = '';
});

// A model saved earlier is shown and loaded at once.
store('readonly', (s) => s.get('model'))
  .then((saved) => {
    if (!saved) return;
    startWorker();
    worker.postMessage({ type: 'load', files: saved.files, threads: threads() });
    showResult(saved);
    setStatus('A model saved in this browser is loaded.');
  })
  .catch(() => undefined)
  .finally(() => {
    document.body.dataset.ready = 'yes';
  });
