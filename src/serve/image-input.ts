import type { FastifyRequest } from 'fastify';
import sharp, { type Metadata } from 'sharp';
import { decodeResized, toCHW } from '../data/image.js';
import type { Preprocess } from '../models/backbone.js';
import { ApiError, oneLine, unsupportedType } from './errors.js';

/**
 * The uploaded image's bytes: the first file of a multipart/form-data body, or a raw body sent with an
 * image/* content type (the only raw type the server parses; others are refused with 415 before here).
 */
export async function readUpload(req: FastifyRequest): Promise<Buffer> {
  if (req.isMultipart()) {
    let part: Awaited<ReturnType<FastifyRequest['file']>>;
    let bytes: Buffer;
    try {
      part = await req.file();
      // Over the file size limit this throws @fastify/multipart's 413 error.
      bytes = part ? await part.toBuffer() : Buffer.alloc(0);
    } catch (e) {
      throw multipartError(e as Error & { statusCode?: number });
    }
    if (!part)
      throw new ApiError(
        400,
        'no_file',
        "the multipart body has no file part; send the image as a file field (e.g. 'file')",
      );
    if (bytes.length === 0)
      throw new ApiError(400, 'empty_body', `the file part '${part.fieldname}' is empty`);
    return bytes;
  }
  const body = req.body;
  if (Buffer.isBuffer(body) && body.length > 0) return body;
  const type = req.headers['content-type'];
  if (type && !/^image\//i.test(type)) throw unsupportedType(type);
  throw new ApiError(400, 'empty_body', 'the request has no body; send an image');
}

/** @fastify/multipart's own errors carry their status; busboy's (a malformed body) do not. */
function multipartError(e: Error & { statusCode?: number }): Error {
  if (typeof e.statusCode === 'number') return e;
  if (/^aborted$/i.test(e.message))
    return new ApiError(400, 'client_aborted', 'the client closed the connection during the upload');
  return new ApiError(400, 'bad_multipart', `malformed multipart/form-data body (${oneLine(e.message)})`);
}

/**
 * Photo formats the server decodes (as training does; BMP by decodeResized itself). Whatever else
 * libvips could open (SVG with its XML parser, libvips' own formats, ...) is refused unread.
 */
const PHOTO_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

/**
 * The displayed [width, height] from the header alone (EXIF orientation applied), or undefined when
 * the header cannot be read (decodeResized then gives the reason).
 */
export async function imageDims(bytes: Buffer): Promise<{ width: number; height: number } | undefined> {
  // Uncompressed BMP, which sharp cannot read but decodeResized decodes itself: its header has the size.
  if (bytes.length >= 26 && bytes[0] === 0x42 && bytes[1] === 0x4d)
    return { width: Math.abs(bytes.readInt32LE(18)), height: Math.abs(bytes.readInt32LE(22)) };
  let m: Metadata;
  try {
    // The header alone: no pixel limit here, that is what the caller checks.
    m = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    return undefined;
  }
  if (!PHOTO_FORMATS.has(m.format))
    throw new ApiError(
      422,
      'unsupported_image_format',
      `${m.format.toUpperCase()} images are not accepted; send a JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF or BMP`,
    );
  return m.autoOrient.width && m.autoOrient.height
    ? { width: m.autoOrient.width, height: m.autoOrient.height }
    : undefined;
}

function tooLarge(width: number, height: number, maxPixels: number): ApiError {
  return new ApiError(
    413,
    'image_too_large',
    `the image is ${width}x${height} (${+((width * height) / 1e6).toFixed(1)} megapixels), over the server's limit of ${maxPixels / 1e6} megapixels`,
  );
}

/** libvips repeats clauses of its error buffer ('VipsJpeg: premature end of JPEG image' thrice): once each. */
function dedupe(message: string): string {
  const close = message.endsWith(')') ? ')' : '';
  const parts = (close ? message.slice(0, -1) : message).split(/\s+(?=Vips\w*: )/);
  return [...new Set(parts)].join(' ') + close;
}

/** decodeResized's one-line error as the API's: 413 over the pixel limit, otherwise 422. */
function decodeError(e: Error): ApiError {
  const message = dedupe(e.message.replace(/^upload: /, ''));
  if (/image too large|exceeds pixel limit/i.test(message))
    return new ApiError(413, 'image_too_large', message);
  if (/empty file/i.test(message)) return new ApiError(400, 'empty_body', 'the image is empty');
  if (/not an image/i.test(message)) return new ApiError(422, 'not_an_image', message);
  if (/truncated|corrupt/i.test(message)) return new ApiError(422, 'corrupt_image', message);
  return new ApiError(422, 'invalid_image', message);
}

/**
 * Decodes and resizes with the run's preprocessing (decodeResized + toCHW, exactly as training and
 * `predict` do) to one planar float32 [3,H,W] image. The pixel count is checked on the header first, so
 * a decompression bomb costs a header read, and decodeResized enforces the same limit while decoding.
 */
export async function decodeUpload(
  bytes: Buffer,
  preprocess: Preprocess,
  maxPixels: number,
): Promise<{ chw: Float32Array; width: number; height: number }> {
  const dims = await imageDims(bytes);
  if (dims && dims.width * dims.height > maxPixels) throw tooLarge(dims.width, dims.height, maxPixels);
  const decode = () => decodeResized(bytes, preprocess.size, 'upload', { maxPixels });
  let rgb: Uint8Array;
  try {
    rgb = (await decode()).rgb;
  } catch {
    // libvips keeps one error message for all its threads, so under concurrent decodes a failure can
    // carry another's reason (or none). Decoding again alone gives the exact one, and a failure that was
    // not this image's fault goes away.
    try {
      rgb = (await decode()).rgb;
    } catch (again) {
      throw decodeError(again as Error);
    }
  }
  return { chw: toCHW(rgb, preprocess.size, preprocess), width: dims?.width ?? 0, height: dims?.height ?? 0 };
}

/**
 * The upload as a PNG at most `maxSide` pixels on its long side (EXIF orientation applied, alpha
 * flattened as the model saw it): the image a Grad-CAM overlay is drawn on, so a 12-megapixel photo
 * costs a small overlay rather than a 12-megapixel PNG.
 */
export async function displayImage(bytes: Buffer, maxSide: number, maxPixels: number): Promise<Buffer> {
  const dims = await imageDims(bytes);
  if (!dims) throw new ApiError(422, 'invalid_image', 'cannot read the image size');
  const scale = Math.min(1, maxSide / Math.max(dims.width, dims.height));
  const size: [number, number] = [
    Math.max(1, Math.round(dims.height * scale)),
    Math.max(1, Math.round(dims.width * scale)),
  ];
  const { rgb, width, height } = await decodeResized(bytes, size, 'upload', { maxPixels });
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}
