/** Decompression-bomb guard: larger images are refused before their pixels are decoded (50 MP ≈ 150 MB RGB). */
export const MAX_INPUT_PIXELS = 50_000_000;

/** Why an image could not be used; callers such as the server map the kind to their own answers. */
export type ImageErrorKind =
  'read' | 'empty' | 'not_image' | 'unsupported_format' | 'too_large' | 'corrupt' | 'invalid';

/** A one-line error about one image file or upload, starting with where it came from. */
export class ImageError extends Error {
  constructor(
    readonly kind: ImageErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** The words for a file that no decoder reads, shared by the CLI and the browser. */
export const notAnImage = (where: string): ImageError =>
  new ImageError('not_image', `${where}: not an image, or a format that cannot be read`);

export const emptyImage = (where: string): ImageError =>
  new ImageError('empty', `${where}: empty file, not an image`);

export const tooLarge = (where: string, width: number, height: number, maxPixels: number): ImageError =>
  new ImageError(
    'too_large',
    `${where}: image too large (${width}x${height}, over ${maxPixels / 1e6} megapixels)`,
  );
