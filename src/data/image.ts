import { readFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { DecodeGate } from './decode-gate.js';
import { emptyImage, ImageError, MAX_INPUT_PIXELS, notAnImage, tooLarge } from './image-error.js';
import { type ImageHeader, isBmp, probeImage } from './probe-image.js';

/** An 8-bit sRGB image, HWC with 3 channels. */
export interface DecodedImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** Every decode of the process passes this gate, so a failed one can be tried again alone. */
const gate = new DecodeGate();

/** The format and displayed size from the header alone (see probeImage), read inside the decode gate. */
export function imageHeader(bytes: Buffer, where: string): Promise<ImageHeader | undefined> {
  return gate.run(() => probeImage(bytes, where));
}

/** Refuses an image whose header claims more than `maxPixels` pixels. */
export function checkPixels(header: ImageHeader, maxPixels: number, where: string): void {
  if (header.width * header.height > maxPixels) throw tooLarge(where, header.width, header.height, maxPixels);
}

/**
 * Decodes an image file or buffer and resizes the whole image (no crop, aspect not kept) to
 * `size` = [height, width]: EXIF orientation applied, alpha flattened onto black, greyscale/CMYK/16-bit
 * converted to 8-bit sRGB. JPEG, PNG, WebP, GIF, TIFF and AVIF via sharp; uncompressed BMP, which
 * sharp cannot read, is decoded here. The header is read first: a format that is not a photo, or an
 * image over `maxPixels`, is refused before any pixel is decoded. Errors are one-line ImageErrors
 * starting with `where` (default: the path).
 *
 * The resize is sharp's `kernel: 'linear'` reduce: a triangle filter widened by the shrink factor, centre
 * sampled, i.e. the filter of PIL's BILINEAR that torchvision's Resize uses (`fastShrinkOnLoad: false`
 * stops JPEG's DCT-domain shrink from standing in for it). Against a PIL-algorithm reference to 224x224
 * it is within 1-3 levels for 512x384, 512x343 and 250x250 inputs, but 11 on 512x600 (2.7x vertical)
 * and 7 on 1000x900, where libvips box-shrinks first; enlarging uses an interpolator that softens fine
 * detail. On the MobileNetV2 test images this moves softmax probabilities by at most 0.004.
 */
export async function decodeResized(
  input: string | Buffer,
  size: [number, number],
  where = typeof input === 'string' ? input : 'image buffer',
  opts: { maxPixels?: number } = {},
): Promise<DecodedImage> {
  const maxPixels = opts.maxPixels ?? MAX_INPUT_PIXELS;
  let bytes: Buffer;
  try {
    bytes = typeof input === 'string' ? await readFile(input) : input;
  } catch (e) {
    throw new ImageError(
      'read',
      `${where}: cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (bytes.length === 0) throw emptyImage(where);
  return gate.run(async () => {
    // The header read uses libvips too, so it runs inside the gate with the decode.
    const header = await probeImage(bytes, where);
    if (header) checkPixels(header, maxPixels, where);
    return decodePixels(bytes, size, where, maxPixels);
  });
}

async function decodePixels(
  bytes: Buffer,
  [height, width]: [number, number],
  where: string,
  maxPixels: number,
): Promise<DecodedImage> {
  try {
    // failOn 'warning': libvips reports a JPEG whose compressed body is garbage ('Corrupt JPEG data')
    // only as a warning, and would decode it to noise. All 897 images of the Kaggle set and the
    // MobileNetV2 test images decode without a single warning, so strictness costs nothing there.
    const image = isBmp(bytes)
      ? bmpToSharp(bytes, maxPixels)
      : sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning' });
    const { data, info } = await image
      .rotate()
      .flatten()
      .toColourspace('srgb')
      .resize(width, height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (e) {
    throw describe(where, (e as Error).message, maxPixels);
  }
}

/** libvips' reason in one line, each of its clauses once (it repeats 'VipsJpeg: premature end of JPEG image'). */
function oneReason(message: string): string {
  const parts = message
    .replace(/\s+/g, ' ')
    .trim()
    .split(/ (?=Vips\w*: )/);
  return [...new Set(parts)].join(' ');
}

function describe(where: string, message: string, maxPixels: number): ImageError {
  const m = oneReason(message);
  if (/unsupported image format/i.test(m)) return notAnImage(where);
  if (/pixel limit/i.test(m))
    return new ImageError('too_large', `${where}: image too large (over ${maxPixels / 1e6} megapixels)`);
  if (/premature end|truncat|corrupt|unexpected end|read error/i.test(m))
    return new ImageError('corrupt', `${where}: truncated or corrupt image (${m})`);
  return new ImageError('invalid', `${where}: cannot decode image (${m})`);
}

/**
 * Uncompressed 24/32-bit Windows BMP (BI_RGB, or BI_BITFIELDS with the standard masks), as raw pixels
 * handed to sharp. Other variants (palette, RLE) are refused rather than guessed at.
 */
function bmpToSharp(b: Buffer, maxPixels: number): Sharp {
  if (b.length < 54) throw new Error('truncated BMP header');
  const dataOffset = b.readUInt32LE(10);
  const headerSize = b.readUInt32LE(14);
  const width = b.readInt32LE(18);
  const rawHeight = b.readInt32LE(22);
  const bpp = b.readUInt16LE(28);
  const compression = b.readUInt32LE(30);
  const height = Math.abs(rawHeight);
  const standardMasks =
    compression === 3 &&
    b.length >= 66 &&
    b.readUInt32LE(54) === 0xff0000 &&
    b.readUInt32LE(58) === 0xff00 &&
    b.readUInt32LE(62) === 0xff;
  if (
    headerSize < 40 ||
    !(bpp === 24 || bpp === 32) ||
    !(compression === 0 || (bpp === 32 && standardMasks))
  ) {
    throw new Error(
      `unsupported BMP variant (${bpp}-bit, compression ${compression}); convert it to PNG or JPEG`,
    );
  }
  if (width <= 0 || height === 0) throw new Error(`BMP has invalid size ${width}x${rawHeight}`);
  if (width * height > maxPixels) throw new Error(`BMP of ${width}x${height} exceeds pixel limit`);
  const step = bpp / 8;
  const stride = Math.ceil((width * step) / 4) * 4;
  if (dataOffset + stride * height > b.length) throw new Error('truncated BMP pixel data');
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    // Rows are stored bottom-up unless the height is negative; pixels are BGR(X).
    const row = dataOffset + stride * (rawHeight > 0 ? height - 1 - y : y);
    for (let x = 0; x < width; x++) {
      const s = row + x * step;
      const d = (y * width + x) * 3;
      rgb[d] = b[s + 2];
      rgb[d + 1] = b[s + 1];
      rgb[d + 2] = b[s];
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } });
}
