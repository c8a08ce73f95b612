import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { BatchQueue, QueueClosedError, QueueFullError } from '../../src/serve/batch-queue.js';

/** A model stand-in: doubles each item, records each call's items, takes `ms` per call. */
function fakeModel(ms = 10) {
  const calls: number[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = async (items: number[]) => {
    calls.push(items);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await sleep(ms);
    inFlight--;
    return items.map((x) => 2 * x);
  };
  return { run, calls, maxInFlight: () => maxInFlight };
}

test('concurrent pushes share model calls of at most maxBatch, each caller gets its own result', async () => {
  const m = fakeModel();
  const q = new BatchQueue(m.run, { maxBatch: 8, windowMs: 5 });
  const out = await Promise.all(Array.from({ length: 20 }, (_, i) => q.push(i)));
  assert.deepEqual(
    out.map((r) => r.value),
    Array.from({ length: 20 }, (_, i) => 2 * i),
  );
  assert.deepEqual(
    m.calls.map((c) => c.length),
    [8, 8, 4],
  );
  assert.deepEqual(m.calls.flat(), [...Array(20).keys()], 'first come, first served');
  assert.equal(m.maxInFlight(), 1, 'one batch in flight at a time');
  assert.deepEqual(
    out.map((r) => r.batchSize),
    [...Array(8).fill(8), ...Array(8).fill(8), ...Array(4).fill(4)],
  );
  assert.ok(out[19].queueMs >= out[0].queueMs, 'later batches waited for the earlier runs');
  assert.deepEqual(q.stats(), { batches: 3, items: 20, largestBatch: 8, pending: 0, running: false });
});

test('an idle queue waits windowMs for company; items arriving during a run form the next batch', async () => {
  const m = fakeModel(30);
  const q = new BatchQueue(m.run, { maxBatch: 32, windowMs: 20 });
  const first = q.push(1);
  await sleep(5);
  const second = q.push(2); // within the window: same batch
  await sleep(30); // the batch [1, 2] is running now
  const during = [q.push(3), q.push(4), q.push(5)];
  await Promise.all([first, second, ...during]);
  assert.deepEqual(m.calls, [
    [1, 2],
    [3, 4, 5],
  ]);
  const r = await first;
  assert.ok(r.queueMs >= 15, `the first item waited out the window (${r.queueMs} ms)`);
});

test('an aborted waiting item leaves the queue; the others still run', async () => {
  const m = fakeModel();
  const q = new BatchQueue(m.run, { maxBatch: 8, windowMs: 20 });
  const ac = new AbortController();
  const kept = q.push(1);
  const dropped = q.push(2, ac.signal);
  ac.abort(new Error('timed out'));
  await assert.rejects(dropped, /timed out/);
  assert.equal((await kept).value, 2);
  assert.deepEqual(m.calls, [[1]]);
  await assert.rejects(q.push(3, ac.signal), /timed out/, 'an already aborted signal is refused');
});

test('a failing run fails its batch only; maxPending and close() refuse new work', async () => {
  let fail = true;
  const q = new BatchQueue(
    async (items: number[]) => {
      await sleep(5);
      if (fail) throw new Error('model broke');
      return items;
    },
    { maxBatch: 2, windowMs: 1, maxPending: 3 },
  );
  const a = q.push(1);
  const b = q.push(2);
  await assert.rejects(a, /model broke/);
  await assert.rejects(b, /model broke/);
  fail = false;
  const busy = q.push(3);
  await sleep(3); // running now: what comes next waits
  const waiting = [q.push(4), q.push(5), q.push(6)];
  await assert.rejects(q.push(7), QueueFullError);
  assert.equal((await busy).value, 3, 'the queue keeps working after a failed run');
  assert.deepEqual(
    (await Promise.all(waiting)).map((r) => r.value),
    [4, 5, 6],
  );

  const slow = new BatchQueue(
    async (items: number[]) => {
      await sleep(20);
      return items;
    },
    { maxBatch: 1, windowMs: 0 },
  );
  const running = slow.push(1);
  await sleep(5);
  const queued = assert.rejects(slow.push(2), QueueClosedError);
  await slow.close();
  assert.equal((await running).value, 1, 'the running batch finishes');
  await queued;
  await assert.rejects(slow.push(3), QueueClosedError);
});
