/**
 * The Train view's Web Worker (/lib/train-worker.js): decodes the user's photos, splits them as the CLI
 * splits one folder (or takes a dropped data set's split, found by the CLI's discovery in the page),
 * trains LoRA with the CLI's trainer, recipe and seed on onnxruntime-web, and keeps the best epoch on
 * validation. It then writes the files of a run folder (config.json, the adapter, the merged model.onnx,
 * metrics and history) and predicts with the merged model, with its Grad-CAM map. Nothing leaves the device.
 */
import { zipSync } from 'fflate';
import ort from 'onnxruntime-web';
import { decide, positiveProbabilities, probabilities, withViews } from '../classify/classify.js';
import { compileKernel, type KernelModule } from '../data/augment-kernel.js';
import { MAX_INPUT_PIXELS } from '../data/image-error.js';
import { packBatch } from '../data/pack-batch.js';
import { requireClasses } from '../data/require-classes.js';
import { ImageStore } from '../data/image-store.js';
import { MemoryBatches } from '../data/memory-batches.js';
import type { Sample } from '../data/sample.js';
import { DEFAULT_SPLIT_FRACTIONS, splitShares, splitUnsplit } from '../data/stratified-split.js';
import { GradCam } from '../eval/grad-cam.js';
import { jet } from '../eval/jet.js';
import { modelMetrics, type ModelMetrics } from '../eval/model-metrics.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { adapterFiles } from '../lora/adapter-format.js';
import { addLora, type LoraModel } from '../lora/lora-model.js';
import { mergeLora } from '../lora/merge.js';
import { onnxBackbone } from '../models/onnx-backbone.js';
import { RUN_FILES } from '../run/files.js';
import { makeRunInfo, parseRunInfo, type RunInfo } from '../run/run-info.js';
import { loraConfigFor, SEED_RECIPE, trainConfigSchema, type TrainConfig } from '../run/train-config.js';
import { optimizerFor, trainerSettings } from '../run/trainer-settings.js';
import { Session } from '../runtime/session.js';
import { ForwardStep } from '../train/forward-step.js';
import type { EpochRecord } from '../train/history.js';
import { predict } from '../train/predict.js';
import { runTraining, type StepInfo } from '../train/trainer.js';
import { TrainStep } from '../train/train-step.js';
import { decodeResized, toCHW } from './pixels.js';

let kernel: Promise<KernelModule> | undefined;

/** The augmentation kernel, served beside this bundle (lib/augment-kernel.wasm), compiled once. */
function augmentKernel(): Promise<KernelModule> {
  kernel ??= fetch(new URL('./augment-kernel.wasm', import.meta.url)).then(async (res) => {
    if (!res.ok)
      throw new Error(`augment-kernel.wasm: the server answered ${res.status}; rebuild with npm run build`);
    return compileKernel(new Uint8Array(await res.arrayBuffer()));
  });
  return kernel;
}

/** What the page asks for. */
export type Request =
  | {
      type: 'train';
      backbone: ArrayBuffer;
      /** The backbone as the server names it (folder/file.onnx): its normalisation and config.json's name. */
      backboneName: string;
      classes: string[];
      photos: { name: string; label: number; blob: Blob }[];
      /** A dropped data set's own split (photo names per split, as the CLI found it), and its layout. */
      dataset?: { train: string[]; val: string[]; test: string[]; layout: string };
      /** Recipe settings the page offers; every other one is the CLI's default. */
      settings: Partial<
        Pick<TrainConfig, 'epochs' | 'batch' | 'lr' | 'rank' | 'alpha' | 'seed' | 'imageSize'>
      > & {
        augment: boolean;
        threads: number;
      };
    }
  | { type: 'stop' }
  | { type: 'load'; files: Record<string, ArrayBuffer>; threads: number }
  | { type: 'predict'; id: number; name: string; blob: Blob };

/** What the worker tells the page. */
export type Reply =
  | { type: 'status'; text: string }
  | { type: 'split'; train: string[]; val: string[]; test: string[]; layout: string }
  | { type: 'step'; info: StepInfo }
  | { type: 'epoch'; record: EpochRecord; best: boolean }
  | {
      type: 'done';
      status: string;
      /** The run folder's files by name, and the whole folder as a zip. */
      files: Record<string, Uint8Array>;
      zip: Uint8Array;
      metrics: ModelMetrics | null;
      history: EpochRecord[];
      /** The epoch whose weights the files hold (0: none finished). */
      keptEpoch: number;
    }
  | {
      type: 'ready';
      classes: string[];
      threshold: number;
      size: [number, number];
      /** Why predictions come without a Grad-CAM heat map, if they do. */
      noHeatMap?: string;
    }
  | {
      type: 'prediction';
      id: number;
      label: string;
      probability: number;
      ms: number;
      /** The Grad-CAM map at the model's size: its values in [0,1], and jet-coloured as canvas RGBA. */
      heat?: { map: Float32Array; rgba: Uint8ClampedArray; width: number; height: number };
    }
  | { type: 'error'; id?: number; message: string };

const post = (r: Reply, transfer: Transferable[] = []) => self.postMessage(r, { transfer });

let stopping = false;
/** The merged model that predicts, with its run's settings, and its Grad-CAM graph where it builds. */
let predictor: { session: Session; info: RunInfo; cam?: GradCam } | undefined;

/** Yields to the message queue, so that a Stop sent during training is seen before the next batch. */
const yieldToMessages = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The CLI's recipe with the page's settings: checked by the same schema as config.json. */
function recipe(r: Extract<Request, { type: 'train' }>): TrainConfig {
  const { augment, threads, ...chosen } = r.settings;
  return trainConfigSchema.parse({
    ...SEED_RECIPE,
    ...chosen,
    backbone: r.backboneName,
    data: 'photos added in the browser',
    out: 'browser',
    threads,
    augment: augment
      ? SEED_RECIPE.augment
      : { hflip: 0, rotate: 0, jitter: { brightness: 0, contrast: 0, saturation: 0, hue: 0 } },
  });
}

/** Decodes every photo at the model's size into one store, in the CLI's words on the first bad one. */
async function decodeAll(
  samples: Sample[],
  blobs: Map<string, Blob>,
  size: [number, number],
): Promise<ImageStore> {
  const store = new ImageStore(samples.length, size, new ArrayBuffer(samples.length * size[0] * size[1] * 3));
  for (const [i, s] of samples.entries()) {
    store.set(i, (await decodeResized(blobs.get(s.path)!, size, s.path, MAX_INPUT_PIXELS)).rgb);
    if (i % 16 === 15) post({ type: 'status', text: `Decoded ${i + 1} of ${samples.length} photos…` });
  }
  return store;
}

async function train(r: Extract<Request, { type: 'train' }>): Promise<void> {
  stopping = false;
  const c = recipe(r);
  ort.env.wasm.numThreads = c.threads;
  requireClasses(r.classes, 'the photos');
  const names = r.photos.map((p) => p.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`${dup}: added twice; every photo needs its own file name`);
  const samples = r.photos.map((p) => ({ path: p.name, label: p.label }));
  const labelOf = new Map(samples.map((s) => [s.path, s.label]));
  const ds = r.dataset;
  const [trainSet, valSet, testSet] = ds
    ? [ds.train, ds.val, ds.test].map((names) => names.map((path) => ({ path, label: labelOf.get(path)! })))
    : splitUnsplit(samples, r.classes, DEFAULT_SPLIT_FRACTIONS, c.seed, 'the photos');
  const layout =
    ds?.layout ??
    `${r.photos.length} photos added in the browser, split ${splitShares(DEFAULT_SPLIT_FRACTIONS)} stratified (seed ${c.seed})`;
  const paths = (s: Sample[]) => s.map((x) => x.path);
  post({ type: 'split', train: paths(trainSet), val: paths(valSet), test: paths(testSet), layout });

  post({ type: 'status', text: 'Building the model…' });
  const backbone = await onnxBackbone(new Uint8Array(r.backbone), r.backboneName, { imageSize: c.imageSize });
  const model = addLora(backbone, loraConfigFor(c, backbone), { numClasses: r.classes.length, seed: c.seed });
  const size = backbone.preprocess.size;
  const blobs = new Map(r.photos.map((p) => [p.name, p.blob]));
  const batches = async (set: Sample[], training: boolean) =>
    MemoryBatches.open(
      await decodeAll(set, blobs, size),
      Int32Array.from(set, (s) => s.label),
      paths(set),
      {
        preprocess: backbone.preprocess,
        batchSize: c.batch,
        seed: c.seed,
        shuffle: training,
        augment: training ? c.augment : undefined,
        threads: c.threads,
        kernel: await augmentKernel(),
        beforeBatch: yieldToMessages,
      },
    );
  const trainBatches = await batches(trainSet, true);
  const valBatches = await batches(valSet, false);
  post({ type: 'status', text: 'Compiling the training graph…' });
  const step = await TrainStep.compile(model, {
    threads: c.threads,
    labelSmoothing: c.labelSmoothing,
    classWeights: c.classWeights,
    headDropout: c.headDropout,
  });
  const forward = await ForwardStep.compile(model, { threads: c.threads });
  let best: Map<string, Float32Array> | undefined;
  let keptEpoch = 0;
  try {
    const outcome = await runTraining(
      { model, step, forward, optimizer: optimizerFor(c), train: trainBatches, val: valBatches },
      trainerSettings(c, trainBatches.batchesPerEpoch, true, ''),
      {
        onStep: (info) => post({ type: 'step', info }),
        shouldStop: () => stopping,
        onEpoch(record, keep) {
          if (keep) {
            best = new Map([...model.params].map(([n, t]) => [n, t.data.slice()]));
            keptEpoch = record.epoch;
          }
          post({ type: 'epoch', record, best: keep });
        },
      },
    );
    const history = outcome.progress.history;
    if (!best) {
      post({
        type: 'done',
        status: outcome.status,
        files: {},
        zip: new Uint8Array(),
        metrics: null,
        history,
        keptEpoch: 0,
      });
      return;
    }
    // The kept epoch's weights, as the CLI reloads its best adapter before merging and measuring.
    for (const [name, t] of model.params) t.data.set(best.get(name)!);
    post({ type: 'status', text: 'Measuring the kept model on validation…' });
    const val = await predict((x) => forward.run(x), valBatches.epoch(0), model.numClasses, { tta: c.tta });
    const metrics = modelMetrics(val.labels, val.probs, {
      classes: r.classes,
      split: 'validation',
      threshold: c.threshold,
    });
    const info = makeRunInfo(c, { classes: r.classes, layout }, model);
    const files = runFiles(model, info, metrics, history);
    await usePredictor(files[RUN_FILES.model], info);
    const zip = zipSync(Object.fromEntries(Object.entries(files).map(([n, b]) => [`browser-run/${n}`, b])));
    post({ type: 'done', status: outcome.status, files, zip, metrics, history, keptEpoch });
  } finally {
    await Promise.all([step.release(), forward.release(), trainBatches.release(), valBatches.release()]);
  }
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

/** The files a CLI run folder holds for its model: what evaluate, predict and serve read. */
function runFiles(
  model: LoraModel,
  info: RunInfo,
  metrics: ModelMetrics,
  history: EpochRecord[],
): Record<string, Uint8Array> {
  return {
    [RUN_FILES.config]: json(info),
    ...adapterFiles(model),
    [RUN_FILES.model]: toOnnxBytes(mergeLora(model)),
    [RUN_FILES.metrics]: json(metrics),
    [RUN_FILES.history]: json(history),
  };
}

async function usePredictor(modelBytes: Uint8Array, info: RunInfo): Promise<void> {
  await Promise.all([predictor?.session.release(), predictor?.cam?.release()]);
  const session = await Session.create(modelBytes, { threads: info.threads });
  // The server's Grad-CAM, built from the same merged model: its tail's backward graph from our autodiff.
  const { preprocess, classes, threshold, tta } = info;
  const cam = await GradCam.create(
    { bytes: modelBytes, where: RUN_FILES.model, preprocess, classes, threshold, tta },
    { threads: info.threads },
  ).catch((e: Error) => e);
  predictor = { session, info, cam: cam instanceof GradCam ? cam : undefined };
  post({
    type: 'ready',
    classes,
    threshold,
    size: preprocess.size,
    ...(cam instanceof Error ? { noHeatMap: cam.message } : {}),
  });
}

/** A heat map in [0,1] coloured with jet, as RGBA for a canvas. */
function heatLayer(heatmap: Float32Array, [height, width]: [number, number]) {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < heatmap.length; i++) {
    rgba.set(jet(heatmap[i]), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  return { map: heatmap, rgba, width, height };
}

/** A saved run (from IndexedDB): its config.json checked as the CLI checks it, its merged model loaded. */
async function load(files: Record<string, ArrayBuffer>, threads: number): Promise<void> {
  const text = new TextDecoder().decode(files[RUN_FILES.config]);
  const info = parseRunInfo(JSON.parse(text), RUN_FILES.config);
  ort.env.wasm.numThreads = threads;
  await usePredictor(new Uint8Array(files[RUN_FILES.model]), { ...info, threads });
}

async function classifyPhoto(id: number, name: string, blob: Blob): Promise<void> {
  if (!predictor) throw new Error('no trained model yet; train one or load a saved one');
  const { session, info } = predictor;
  const t0 = performance.now();
  const size = info.preprocess.size;
  const { rgb } = await decodeResized(blob, size, name, MAX_INPUT_PIXELS);
  const chw = toCHW(rgb, size, info.preprocess);
  const data = withViews(chw, size[1], info.tta);
  const input = {
    dtype: 'float32' as const,
    shape: [data.length / (3 * size[0] * size[1]), 3, ...size],
    data,
  };
  const logits = (await session.run({ input }, ['logits'])).logits.data as Float32Array;
  const k = info.classes.length;
  const probs = probabilities(logits, k, info.tta);
  const ms = performance.now() - t0;
  const said = decide(probs, k, 0, info.threshold);
  const heat = predictor.cam
    ? heatLayer((await predictor.cam.explainBatch(packBatch([chw], size)))[0].heatmap, size)
    : undefined;
  post(
    {
      type: 'prediction',
      id,
      label: info.classes[said],
      // P(positive) for two classes, as predict gives it; with more, P(label).
      probability: k === 2 ? positiveProbabilities(probs, k)[0] : probs[said],
      ms,
      ...(heat ? { heat } : {}),
    },
    heat ? [heat.rgba.buffer, heat.map.buffer] : [],
  );
}

self.onmessage = (e: MessageEvent<Request>) => {
  const r = e.data;
  const fail = (err: unknown) =>
    post({ type: 'error', id: r.type === 'predict' ? r.id : undefined, message: (err as Error).message });
  if (r.type === 'stop') stopping = true;
  else if (r.type === 'train') train(r).catch(fail);
  else if (r.type === 'load') load(r.files, r.threads).catch(fail);
  else if (r.type === 'predict') classifyPhoto(r.id, r.name, r.blob).catch(fail);
};
