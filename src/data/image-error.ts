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
