import { formatThreshold } from '../../eval/format-number.js';
import { blues, needsLightText } from './colour-ramp.js';
import { rect, svgDocument, text, textWidth } from './svg.js';

export const CONFUSION_HEATMAP_SIZE = { width: 640, height: 500 };

const NAME_FONT = 14;
const MAX_NAME = 24;
const GRID_TOP = 76;

/**
 * The confusion matrix as a heat map: rows are the true class, columns the predicted one, each
 * cell showing its count and its share of the true class. Colour follows that share (recall
 * per row), so a rare class is not washed out by a common one.
 */
export function confusionHeatmapSvg(m: {
  confusion_matrix: readonly (readonly number[])[];
  classes: readonly string[];
  /** Absent for a model of more than two classes, which says the most probable class. */
  threshold?: number;
  split: string | null;
}): string {
  const { width, height } = CONFUSION_HEATMAP_SIZE;
  const names = m.classes.map((c) => (c.length > MAX_NAME ? `${c.slice(0, MAX_NAME - 1)}…` : c));
  const nameW = Math.max(...names.map((s) => textWidth(s, NAME_FONT)));
  // Axis title then row names left of the grid; the grid is centred under the title when they fit.
  const labelW = 44 + nameW + 14;
  // The grid fits the width beside the names, and the height above the column names and axis title.
  const cell = Math.min(170, (width - labelW - 30) / names.length, (height - GRID_TOP - 60) / names.length);
  const gridW = cell * names.length;
  const gridX = Math.max(labelW + 8, (width - gridW) / 2);
  const left = gridX - labelW;
  const svg = [
    text(width / 2, 22, 'Confusion matrix', { size: 18, bold: true, anchor: 'middle' }),
    text(width / 2, 46, subtitle(m), { size: 13, anchor: 'middle', fill: '#555' }),
  ];
  m.confusion_matrix.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, c) => {
      const share = total > 0 ? count / total : 0;
      const [x, y] = [gridX + c * cell, GRID_TOP + r * cell];
      const ink = needsLightText(share) ? '#ffffff' : '#1a1a1a';
      svg.push(rect(x, y, cell, cell, blues(share), { color: '#ffffff', width: 2 }));
      svg.push(
        text(x + cell / 2, y + cell / 2 - 12, String(count), {
          size: 30,
          bold: true,
          anchor: 'middle',
          fill: ink,
        }),
      );
      const caption = total > 0 ? `${(100 * share).toFixed(1)}% of true` : 'class absent';
      svg.push(text(x + cell / 2, y + cell / 2 + 22, caption, { size: 13, anchor: 'middle', fill: ink }));
    });
    svg.push(text(gridX - 10, GRID_TOP + (r + 0.5) * cell, names[r], { size: NAME_FONT, anchor: 'end' }));
  });
  const gridBottom = GRID_TOP + gridW;
  names.forEach((name, c) =>
    svg.push(text(gridX + (c + 0.5) * cell, gridBottom + 18, name, { size: NAME_FONT, anchor: 'middle' })),
  );
  svg.push(
    text(gridX + gridW / 2, gridBottom + 46, 'predicted class', { size: 15, bold: true, anchor: 'middle' }),
  );
  svg.push(
    text(left + 22, GRID_TOP + gridW / 2, 'true class', {
      size: 15,
      bold: true,
      anchor: 'middle',
      rotate: -90,
    }),
  );
  return svgDocument(width, height, svg);
}

function subtitle(m: { threshold?: number; split: string | null }): string {
  const on = m.split === null ? '' : `${m.split} split, `;
  const rule =
    m.threshold === undefined ? 'most probable class' : `threshold ${formatThreshold(m.threshold)}`;
  return `${on}${rule}; colour = share of the true class`;
}
