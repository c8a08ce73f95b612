import type { FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { checkPixels, type DecodedImage, decodeResized, imageHeader } from '../data/image.js';
import { toCHW } from '../data/to-chw.js';
import { ImageError, type ImageErrorKind } from '../data/image-error.js';
import type { ImageHeader } from '../data/probe-image.js';
import type { Preprocess } from '../models/backbone.js';
import { ApiError, oneLine, unsupportedType } from './errors.js';
import { Limiter } from './limiter.js';

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

/** Above this many pixels an upload decodes in the lane for large images (0.05-0.7 s each). */
const LARGE_PIXELS = 4_000_000;

/**
 * Decodes uploads in two lanes: large images one at a time, the rest two at a time, so a stream of
 * large uploads cannot hold back ordinary photos. A decode whose request has gone (timed out, or its
 * client left) before its turn never starts. The pixel limit is checked on the header first, so a
 * decompression bomb costs a header read.
 */
export class UploadDecoder {
  private readonly lanes = { small: new Limiter(2), large: new Limiter(1) };

  constructor(private readonly maxPixels: number) {}

  /** Decoded and resized as training and `predict` do it, to one planar float32 [3,H,W] image. */
  async chw(bytes: Buffer, preprocess: Preprocess, signal?: AbortSignal): Promise<Float32Array> {
    const { rgb } = await this.decode(bytes, () => preprocess.size, signal);
    return toCHW(rgb, preprocess.size, preprocess);
  }

  /**
   * The upload as a PNG at most `maxSide` pixels on its long side (EXIF orientation applied, alpha
   * flattened as the model saw it): the image a Grad-CAM overlay is drawn on, so a 12-megapixel
   * photo costs a small overlay rather than a 12-megapixel PNG.
   */
  async display(bytes: Buffer, maxSide: number, signal?: AbortSignal): Promise<Buffer> {
    const { rgb, width, height } = await this.decode(
      bytes,
      (h) => {
        const scale = Math.min(1, maxSide / Math.max(h.width, h.height));
        return [Math.max(1, Math.round(h.height * scale)), Math.max(1, Math.round(h.width * scale))];
      },
      signal,
    );
    return sharp(rgb, { raw: { width, height, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toBuffer();
  }

  /** Waiting decodes per lane. */
  get pending(): { small: number; large: number } {
    return { small: this.lanes.small.pending, large: this.lanes.large.pending };
  }

  private async decode(
    bytes: Buffer,
    sizeFor: (header: ImageHeader) => [number, number],
    signal?: AbortSignal,
  ): Promise<DecodedImage> {
    try {
      const header = await imageHeader(bytes, WHERE);
      if (!header) {
        await decodeResized(bytes, [1, 1], WHERE); // for its one-line reason
        throw new ApiError(422, 'invalid_image', 'cannot read the image size');
      }
      checkPixels(header, this.maxPixels, WHERE);
      const lane = header.width * header.height > LARGE_PIXELS ? this.lanes.large : this.lanes.small;
      return await lane.run(
        () => decodeResized(bytes, sizeFor(header), WHERE, { maxPixels: this.maxPixels }),
        signal,
      );
    } catch (e) {
      throw apiErrorOf(e);
    }
  }
}
