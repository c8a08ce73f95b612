import type { FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { decodeResized, imageHeader, toCHW } from '../data/image.js';
import { ImageError, type ImageErrorKind } from '../data/image-error.js';
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

/** The API's status and code for each reason an image is refused. */
const ANSWERS: Record<ImageErrorKind, [number, string]> = {
  read: [422, 'invalid_image'],
  empty: [400, 'empty_body'],
  not_image: [422, 'not_an_image'],
  unsupported_format: [422, 'unsupported_image_format'],
  too_large: [413, 'image_too_large'],
  corrupt: [422, 'corrupt_image'],
  invalid: [422, 'invalid_image'],
};

const WHERE = 'upload';

/** An image error as the API's answer, without the 'upload: ' its message starts with. */
function apiErrorOf(e: unknown): unknown {
  if (!(e instanceof ImageError)) return e;
  const [status, code] = ANSWERS[e.kind];
  return new ApiError(status, code, e.message.replace(`${WHERE}: `, ''));
}

/**
 * Decodes and resizes with the run's preprocessing (decodeResized + toCHW, exactly as training and
 * `predict` do) to one planar float32 [3,H,W] image; the pixel limit is checked on the header first, so
 * a decompression bomb costs a header read.
 */
export async function decodeUpload(
  bytes: Buffer,
  preprocess: Preprocess,
  maxPixels: number,
): Promise<Float32Array> {
  try {
    const { rgb } = await decodeResized(bytes, preprocess.size, WHERE, { maxPixels });
    return toCHW(rgb, preprocess.size, preprocess);
  } catch (e) {
    throw apiErrorOf(e);
  }
}

/**
 * The upload as a PNG at most `maxSide` pixels on its long side (EXIF orientation applied, alpha
 * flattened as the model saw it): the image a Grad-CAM overlay is drawn on, so a 12-megapixel photo
 * costs a small overlay rather than a 12-megapixel PNG.
 */
export async function displayImage(bytes: Buffer, maxSide: number, maxPixels: number): Promise<Buffer> {
  try {
    const header = await imageHeader(bytes, WHERE);
    if (!header) throw new ApiError(422, 'invalid_image', 'cannot read the image size');
    const scale = Math.min(1, maxSide / Math.max(header.width, header.height));
    const size: [number, number] = [
      Math.max(1, Math.round(header.height * scale)),
      Math.max(1, Math.round(header.width * scale)),
    ];
    const { rgb, width, height } = await decodeResized(bytes, size, WHERE, { maxPixels });
    return await sharp(rgb, { raw: { width, height, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toBuffer();
  } catch (e) {
    throw apiErrorOf(e);
  }
}
