import type { FastifyReply } from 'fastify';
import { QueueClosedError, QueueFullError } from './batch-queue.js';
import { ApiError } from './errors.js';

/**
 * Runs `work` under the per-request time limit. On expiry (or when the client goes away) the signal
 * aborts, which takes a waiting image out of the batch queue, and the request fails with 503; work
 * already running finishes in the background and its result is dropped.
 */
export async function withDeadline<T>(
  reply: FastifyReply,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(
    () =>
      ac.abort(
        new ApiError(
          503,
          'timeout',
          `no answer within the server's per-request limit of ${timeoutMs} ms (--timeout-ms); the server is busy, try again`,
          { 'retry-after': '1' },
        ),
      ),
    timeoutMs,
  );
  const onClose = () => {
    if (!reply.raw.writableFinished)
      ac.abort(new ApiError(499, 'client_closed', 'the client closed the connection before the answer'));
  };
  reply.raw.once('close', onClose);
  const aborted = new Promise<never>((_, reject) =>
    ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true }),
  );
  try {
    return await Promise.race([work(ac.signal), aborted]);
  } catch (e) {
    if (e instanceof QueueFullError)
      throw new ApiError(503, 'overloaded', `the server is overloaded (${e.message}); try again`, {
        'retry-after': '1',
      });
    if (e instanceof QueueClosedError) throw new ApiError(503, 'shutting_down', e.message);
    throw e;
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', onClose);
  }
}
