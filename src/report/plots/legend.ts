import { type StrokeStyle, circle, line, rect, text, textWidth } from './svg.js';

export interface LegendEntry {
  label: string;
  /** A line sample; omit for a marker-only entry. */
  stroke?: StrokeStyle;
  /** Fill colour of a dot drawn on the sample. */
  marker?: string;
}

export interface Legend {
  /** Drawn with its top-left corner at (x, y). */
  at: (x: number, y: number) => string;
  w: number;
  h: number;
}

const FONT = 13;
const SAMPLE = 28;
const ROW = 20;
const PAD = 8;
const GAP = 18;

/** A boxed legend, one entry per line (`rows`) or all on one line (`row`); sized before placing. */
export function legend(entries: LegendEntry[], layout: 'rows' | 'row'): Legend {
  const widths = entries.map((e) => SAMPLE + 6 + textWidth(e.label, FONT));
  const inner = layout === 'row' ? widths.reduce((a, b) => a + b + GAP, -GAP) : Math.max(...widths);
  const w = inner + 2 * PAD;
  const h = (layout === 'row' ? 1 : entries.length) * ROW + PAD;
  const at = (x0: number, y0: number) => {
    const svg = [rect(x0, y0, w, h, '#ffffff', { color: '#bbb' })];
    let x = x0 + PAD;
    entries.forEach((e, i) => {
      const y = y0 + PAD / 2 + ROW / 2 + (layout === 'rows' ? i * ROW : 0);
      if (e.stroke) svg.push(line([x, y], [x + SAMPLE, y], e.stroke));
      if (e.marker) svg.push(circle([x + SAMPLE / 2, y], 4, e.marker));
      svg.push(text(x + SAMPLE + 6, y, e.label, { size: FONT }));
      if (layout === 'row') x += widths[i] + GAP;
    });
    return svg.join('\n');
  };
  return { at, w, h };
}
