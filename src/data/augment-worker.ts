import { parentPort, workerData } from 'node:worker_threads';
import type { PoolJob, PoolReply, PoolSetup } from './augment-pool.js';
import { EpochImages } from './epoch-images.js';
import { ImageStore } from './image-store.js';

/* An AugmentPool worker: EpochImages over the pool's shared store, one job at a time. */

const { buffer, count, size, options } = workerData as PoolSetup;
const port = parentPort!;
const say = (r: PoolReply) => port.postMessage(r);

try {
  const images = await EpochImages.open(new ImageStore(count, size, buffer), options);
  const per = 3 * size[0] * size[1];
  let queue = Promise.resolve();
  port.on('message', (job: PoolJob) => {
    queue = queue.then(async () => {
      try {
        await images.batch(
          job.epoch,
          job.indices,
          new Float32Array(job.out, job.offset * 4, job.indices.length * per),
        );
        say({ id: job.id });
      } catch (e) {
        say({ id: job.id, error: (e as Error).message });
      }
    });
  });
  say({ id: -1 });
} catch (e) {
  say({ id: -1, error: (e as Error).message });
}
