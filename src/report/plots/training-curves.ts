import type { EpochRecord } from '../../train/history.js';
import { drawAxes, type Frame } from './axes.js';
import { legend } from './legend.js';
import { niceTicks } from './scale.js';
import { type Point, type StrokeStyle, circle, polyline, svgDocument, text } from './svg.js';

export const TRAINING_CURVES_SIZE = { width: 1000, height: 480 };

/** Blue and orange (matplotlib's first two colours) stay distinct for most colour-blind readers. */
const TRAIN: StrokeStyle = { color: '#1f77b4', width: 2.2 };
const VAL: StrokeStyle = { color: '#ff7f0e', width: 2.2, dash: '7 4' };
/** Above this many epochs the dots would merge into a thick line. */
const MAX_MARKED_EPOCHS = 40;

interface Panel {
  title: string;
  yTitle: string;
  train: (r: EpochRecord) => number;
  val: (r: EpochRecord) => number | null;
}

const PANELS: Panel[] = [
  { title: 'Loss', yTitle: 'cross-entropy loss', train: (r) => r.trainLoss, val: (r) => r.valLoss },
  { title: 'Accuracy', yTitle: 'accuracy', train: (r) => r.trainAcc, val: (r) => r.valAcc },
];

/**
 * Loss (left) and accuracy (right) per epoch, train solid blue and validation dashed orange,
 * one shared legend under the title. Missing and non-finite values (a run without validation, a
 * diverged epoch) are left out rather than stretching the axis.
 */
export function trainingCurvesSvg(history: readonly EpochRecord[]): string {
  if (history.length === 0) throw new Error('training curves: the history is empty');
  const { width, height } = TRAINING_CURVES_SIZE;
  const key = legend(
    [
      { label: 'train', stroke: TRAIN, marker: TRAIN.color },
      { label: 'validation', stroke: VAL, marker: VAL.color },
    ],
    'row',
  );
  const half = width / 2;
  return svgDocument(width, height, [
    text(width / 2, 22, 'Training curves', { size: 18, bold: true, anchor: 'middle' }),
    key.at((width - key.w) / 2, 40),
    ...PANELS.flatMap((p, i) =>
      panel(history, p, { x: i * half + 80, y: 102, w: half - 110, h: height - 162 }),
    ),
  ]);
}

function panel(history: readonly EpochRecord[], p: Panel, f: Frame): string[] {
  const series = (get: (r: EpochRecord) => number | null): Point[] =>
    history.flatMap((r) => {
      const v = get(r);
      return v !== null && Number.isFinite(v) ? [[r.epoch, v] as Point] : [];
    });
  const train = series(p.train);
  const val = series(p.val);
  const epochs = history.map((r) => r.epoch);
  const ys = [...train, ...val].map(([, y]) => y);
  const xTicks = niceTicks(Math.min(...epochs), Math.max(...epochs), { count: 8, minStep: 1, extend: false });
  const yTicks = ys.length > 0 ? niceTicks(Math.min(...ys), Math.max(...ys)) : niceTicks(0, 1);
  const axes = drawAxes(f, { ticks: xTicks, title: 'epoch' }, { ticks: yTicks, title: p.yTitle });
  const toPx = (pts: Point[]): Point[] => pts.map(([x, y]) => [axes.sx(x), axes.sy(y)]);
  return [
    text(f.x + f.w / 2, f.y - 14, p.title, { size: 15, bold: true, anchor: 'middle' }),
    ...axes.svg,
    ...curve(toPx(train), TRAIN, history.length),
    ...curve(toPx(val), VAL, history.length),
  ];
}

function curve(pts: Point[], s: StrokeStyle, epochs: number): string[] {
  const dots = epochs <= MAX_MARKED_EPOCHS ? pts.map((pt) => circle(pt, 3.5, s.color)) : [];
  return [polyline(pts, s), ...dots];
}
