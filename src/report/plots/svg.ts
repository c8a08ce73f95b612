/**
 * Minimal SVG building blocks for the report plots. Plots are plain strings so that tests can
 * read their labels back; `svgToPng` rasterises them.
 */

/** DejaVu Sans ships with Debian (fonts-dejavu-core); librsvg falls back to any sans face. */
export const FONT_FAMILY = 'DejaVu Sans, sans-serif';

export type Point = [number, number];

export interface TextStyle {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  bold?: boolean;
  fill?: string;
  /** Degrees, about the anchor point (-90 reads bottom to top). */
  rotate?: number;
}

export interface StrokeStyle {
  color: string;
  width?: number;
  dash?: string;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Rounds coordinates so the SVG stays short and diffable. */
const n = (x: number) => String(Math.round(x * 100) / 100);

/** Text whose vertical centre is at `y` (librsvg's dominant-baseline support varies, so shift by hand). */
export function text(x: number, y: number, s: string, style: TextStyle = {}): string {
  const { size = 14, anchor = 'start', bold = false, fill = '#222', rotate } = style;
  const baseline = y + 0.36 * size;
  const transform = rotate === undefined ? '' : ` transform="rotate(${rotate} ${n(x)} ${n(y)})"`;
  return (
    `<text x="${n(x)}" y="${n(baseline)}" font-family="${FONT_FAMILY}" font-size="${size}"` +
    ` text-anchor="${anchor}" fill="${fill}"${bold ? ' font-weight="bold"' : ''}${transform}>` +
    `${escapeXml(s)}</text>`
  );
}

/**
 * A rough width for layout (legend boxes, margins): DejaVu Sans averages about 0.6 em per
 * character in the digits and lower case used here, so this errs on the wide side.
 */
export function textWidth(s: string, size = 14): number {
  return s.length * size * 0.62;
}

export function line(a: Point, b: Point, s: StrokeStyle): string {
  return `<line x1="${n(a[0])}" y1="${n(a[1])}" x2="${n(b[0])}" y2="${n(b[1])}"${stroke(s)}/>`;
}

export function polyline(points: Point[], s: StrokeStyle): string {
  const pts = points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ');
  return `<polyline points="${pts}" fill="none" stroke-linejoin="round"${stroke(s)}/>`;
}

export function rect(x: number, y: number, w: number, h: number, fill: string, border?: StrokeStyle): string {
  return `<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="${fill}"${border ? stroke(border) : ''}/>`;
}

export function circle(c: Point, r: number, fill: string, border?: StrokeStyle): string {
  return `<circle cx="${n(c[0])}" cy="${n(c[1])}" r="${n(r)}" fill="${fill}"${border ? stroke(border) : ''}/>`;
}

/** A whole document on a white background, so the PNG has no transparent areas. */
export function svgDocument(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    rect(0, 0, width, height, '#ffffff'),
    ...body,
    '</svg>',
  ].join('\n');
}

function stroke({ color, width = 1, dash }: StrokeStyle): string {
  return ` stroke="${color}" stroke-width="${n(width)}"${dash ? ` stroke-dasharray="${dash}"` : ''}`;
}
