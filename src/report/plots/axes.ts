import { type Scale, type Ticks, linearScale, tickLabel } from './scale.js';
import { line, rect, text, textWidth } from './svg.js';

/** The plotting area inside the margins, in pixels. */
export interface Frame {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Axis {
  ticks: Ticks;
  title: string;
  format?: (v: number) => string;
}

const TICK_FONT = 13;
const TITLE_FONT = 14;
const GRID = '#e3e3e3';
const INK = '#444';

/** Share of the domain left empty at each end, so points on the extreme ticks stay off the frame. */
const PAD = 0.03;

/**
 * Grid lines, tick labels, axis titles and a frame around `f`; returns the SVG and the scales
 * that map data into `f`. The y title sits just left of the widest tick label, so margins only
 * need to leave room for it.
 */
export function drawAxes(f: Frame, xAxis: Axis, yAxis: Axis): { svg: string[]; sx: Scale; sy: Scale } {
  const sx = linearScale(padded(xAxis.ticks), [f.x, f.x + f.w]);
  const sy = linearScale(padded(yAxis.ticks), [f.y + f.h, f.y]);
  const xFmt = xAxis.format ?? ((v: number) => tickLabel(v, xAxis.ticks.step));
  const yFmt = yAxis.format ?? ((v: number) => tickLabel(v, yAxis.ticks.step));
  const svg: string[] = [];
  for (const v of xAxis.ticks.values) {
    svg.push(line([sx(v), f.y], [sx(v), f.y + f.h], { color: GRID }));
    svg.push(text(sx(v), f.y + f.h + 16, xFmt(v), { size: TICK_FONT, anchor: 'middle', fill: INK }));
  }
  const yLabels = yAxis.ticks.values.map(yFmt);
  yAxis.ticks.values.forEach((v, i) => {
    svg.push(line([f.x, sy(v)], [f.x + f.w, sy(v)], { color: GRID }));
    svg.push(text(f.x - 8, sy(v), yLabels[i], { size: TICK_FONT, anchor: 'end', fill: INK }));
  });
  svg.push(rect(f.x, f.y, f.w, f.h, 'none', { color: INK }));
  svg.push(text(f.x + f.w / 2, f.y + f.h + 42, xAxis.title, { size: TITLE_FONT, anchor: 'middle' }));
  const yTitleX = f.x - 8 - Math.max(...yLabels.map((s) => textWidth(s, TICK_FONT))) - 14;
  svg.push(text(yTitleX, f.y + f.h / 2, yAxis.title, { size: TITLE_FONT, anchor: 'middle', rotate: -90 }));
  return { svg, sx, sy };
}

function padded({ domain: [lo, hi] }: Ticks): [number, number] {
  const pad = PAD * (hi - lo);
  return [lo - pad, hi + pad];
}
