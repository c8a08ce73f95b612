/** An error the API answers with `{ error: { code, message } }` and this HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_image',
  429: 'too_many_requests',
  500: 'internal',
  501: 'not_implemented',
  503: 'unavailable',
  504: 'timeout',
};

/**
 * Anything thrown in a request, as the API's error: our ApiErrors as they are, fastify's and
 * @fastify/multipart's errors (which carry a statusCode) by their status, the rest as 500.
 */
export function toApiError(e: unknown, ctx: { bodyLimit: number; contentType?: string }): ApiError {
  if (e instanceof ApiError) return e;
  const err = e as Error & { statusCode?: number; code?: string };
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ApiError(
        413,
        'payload_too_large',
        `the upload is larger than the server's body limit of ${formatBytes(ctx.bodyLimit)}`,
      );
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError(
        413,
        'too_many_parts',
        `the multipart body has more ${err.code === 'FST_FILES_LIMIT' ? 'files' : err.code === 'FST_FIELDS_LIMIT' ? 'fields' : 'parts'} than the server reads; send one image file`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return unsupportedType(ctx.contentType ?? '');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'bad_request', 'the Content-Length does not match the body');
  }
  if (err.code === 'ECONNRESET' || /^aborted$/i.test(err.message))
    return new ApiError(400, 'client_aborted', 'the client closed the connection during the upload');
  if (status === 500) return new ApiError(500, 'internal', `internal error: ${oneLine(err.message)}`);
  return new ApiError(status, STATUS_CODES[status] ?? 'error', oneLine(err.message));
}

export function unsupportedType(type: string): ApiError {
  return new ApiError(
    415,
    'unsupported_media_type',
    `${type ? `content type '${type}' is not accepted` : 'no content type'}; send the image as multipart/form-data (field 'file') or as the raw body with an image/* content type`,
  );
}

export const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GB`;
  if (n >= 1024 ** 2) return `${+(n / 1024 ** 2).toFixed(2)} MB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(2)} kB`;
  return `${n} bytes`;
}

/** '10mb', '512kb', '1gb', '2048' (bytes) -> bytes; binary units, as fastify counts. */
export function parseBytes(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$/i.exec(v);
  if (!m) throw new Error(`'${v}' is not a size such as 10mb, 512kb or 1048576`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const n = Math.floor(Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const)[unit as 'b']);
  if (n < 1) throw new Error(`'${v}' is not a positive size`);
  return n;
}
