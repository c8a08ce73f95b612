import { formatScore } from '../../eval/format-number.js';
import type { Metrics } from '../../eval/metrics.js';
import { drawAxes } from './axes.js';
import { legend } from './legend.js';
import { niceTicks } from './scale.js';
import { type Point, type StrokeStyle, circle, line, polyline, rect, svgDocument, text } from './svg.js';

const SIZE = { width: 600, height: 580 };
const CURVE: StrokeStyle = { color: '#1f77b4', width: 2.5 };
const IDEAL: StrokeStyle = { color: '#888', width: 1.5, dash: '6 5' };
const BARS = '#c6dbef';

/**
 * The reliability diagram: the observed share of the positive class against the mean predicted
 * probability in each bin (the diagonal is perfect calibration), over pale bars of each bin's share
 * of the images, with the expected calibration error in the legend.
 */
export function reliabilitySvg(m: Pick<Metrics, 'calibration' | 'positive_class' | 'n' | 'split'>): string {
  const { width, height } = SIZE;
  const f = { x: 110, y: 70, w: 440, h: 440 };
  const unit = niceTicks(0, 1);
  const axes = drawAxes(
    f,
    { ticks: unit, title: `predicted P(${m.positive_class})` },
    { ticks: unit, title: `observed share of ${m.positive_class}` },
  );
  const px = ([x, y]: Point): Point => [axes.sx(x), axes.sy(y)];
  const filled = m.calibration.bins.filter((b) => b.count > 0);
  const most = Math.max(1, ...filled.map((b) => b.count));
  const bars = filled.map((b) => {
    const [x0, y0] = px([b.lo, (0.5 * b.count) / most]);
    const [x1, base] = px([b.hi, 0]);
    return rect(x0 + 1, y0, x1 - x0 - 2, base - y0, BARS);
  });
  const points = filled.map((b): Point => px([b.predicted!, b.observed!]));
  const key = legend(
    [
      { label: `model (ECE = ${formatScore(m.calibration.ece)})`, stroke: CURVE },
      { label: 'perfectly calibrated', stroke: IDEAL },
      { label: 'images per bin (scaled)', marker: BARS },
    ],
    'rows',
  );
  const on = m.split === null ? '' : `${m.split} split, `;
  return svgDocument(width, height, [
    text(width / 2, 22, 'Reliability diagram', { size: 18, bold: true, anchor: 'middle' }),
    text(width / 2, 46, `${on}n = ${m.n}`, { size: 13, anchor: 'middle', fill: '#555' }),
    ...axes.svg,
    ...bars,
    line(px([0, 0]), px([1, 1]), IDEAL),
    polyline(points, CURVE),
    ...points.map((p) => circle(p, 4, CURVE.color)),
    key.at(f.x + 10, f.y + 10),
  ]);
}
