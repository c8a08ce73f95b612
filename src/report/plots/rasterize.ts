import sharp from 'sharp';

/**
 * Renders an SVG document to PNG bytes with sharp's bundled librsvg: headless, no browser or
 * display. Text needs a system font (DejaVu Sans, Debian's fonts-dejavu-core).
 */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png({ compressionLevel: 9 }).toBuffer();
}
