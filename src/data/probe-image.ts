import sharp, { type Metadata } from 'sharp';
import { ImageError } from './image-error.js';

/**
 * Photo formats decoded anywhere in the project (training data, predict, the server). Whatever else
 * libvips could open (SVG with its XML parser, PDF, libvips' own formats, ...) is refused unread.
 */
const PHOTO_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'bmp']);

export interface ImageHeader {
  format: string;
  /** The displayed size: EXIF orientation applied, as the decoder applies it. */
  width: number;
  height: number;
}

export const isBmp = (b: Buffer): boolean => b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d; // 'BM'

/**
 * The format and displayed size from the header alone, so that a size limit costs a header read, not
 * a decode. Throws an ImageError for a format that is not a photo; undefined when the header cannot be
 * read (the decoder then gives the reason).
 */
export async function probeImage(bytes: Buffer, where: string): Promise<ImageHeader | undefined> {
  // Uncompressed BMP, which sharp cannot read and the decoder reads itself: its header has the size.
  if (isBmp(bytes)) {
    if (bytes.length < 26) return undefined;
    return { format: 'bmp', width: Math.abs(bytes.readInt32LE(18)), height: Math.abs(bytes.readInt32LE(22)) };
  }
  let m: Metadata;
  try {
    m = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    return undefined;
  }
  if (!PHOTO_FORMATS.has(m.format))
    throw new ImageError(
      'unsupported_format',
      `${where}: ${m.format.toUpperCase()} images are not accepted; use a JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF or BMP`,
    );
  const { width, height } = m.autoOrient;
  return width && height ? { format: m.format, width, height } : undefined;
}
