import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { f32 } from '../../src/graph/tensor.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import { loadSafetensors, saveSafetensors } from '../../src/weights/safetensors-file.js';

const good = writeSafetensors({ w: f32([3], [1, 2, 3]) }, { state: 'good' });
function fresh(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'smoker-save-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('saving replaces an existing file and leaves no temp file behind', async (t) => {
  const dir = fresh(t);
  const path = join(dir, 'w.safetensors');
  writeFileSync(path, good);
  await saveSafetensors(path, { w: f32([2], [4, 5]) }, { state: 'new' });
  const back = await loadSafetensors(path);
  assert.deepEqual([...(back.tensors.get('w')?.data ?? [])], [4, 5]);
  assert.deepEqual(back.metadata, { state: 'new' });
  assert.deepEqual(readdirSync(dir), ['w.safetensors']);
});

test('a write that fails midway (file size limit, like a full disk) leaves the old file intact', (t) => {
  const dir = fresh(t);
  const target = join(dir, 'w.safetensors');
  const control = join(dir, 'control.safetensors');
  writeFileSync(target, good);
  writeFileSync(control, good);
  // Root ignores permissions but not RLIMIT_FSIZE: past 64 KiB every write fails with EFBIG
  // (Node ignores SIGXFSZ). The control file shows what a plain overwrite would have done.
  const codec = new URL('../../src/weights/safetensors.js', import.meta.url).href;
  const file = new URL('../../src/weights/safetensors-file.js', import.meta.url).href;
  const script = `
    import { writeFile } from 'node:fs/promises';
    import { writeSafetensors } from ${JSON.stringify(codec)};
    import { saveSafetensors } from ${JSON.stringify(file)};
    const big = { w: { dtype: 'float32', shape: [262144], data: new Float32Array(262144) } };
    await writeFile(${JSON.stringify(control)}, writeSafetensors(big)).catch(() => undefined);
    await saveSafetensors(${JSON.stringify(target)}, big).then(() => console.log('saved'), (e) => console.log(e.message));`;
  const child = spawnSync(
    'bash',
    ['-c', 'ulimit -f 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(child.stderr, '');
  assert.equal(child.stdout, `${target}: could not save: EFBIG: file too large, write\n`);
  assert.equal(statSync(control).size, 64 * 1024, 'the plain overwrite was cut off at the limit');
  assert.deepEqual(readFileSync(target), Buffer.from(good));
  assert.deepEqual(readdirSync(dir).sort(), ['control.safetensors', 'w.safetensors']);
});

test('an unwritable location fails with one line naming the path', async (t) => {
  const dir = fresh(t);
  writeFileSync(join(dir, 'file'), 'not a directory');
  const path = join(dir, 'file', 'w.safetensors');
  await assert.rejects(saveSafetensors(path, { w: f32([1], [1]) }), (e: Error) => {
    assert.match(
      e.message,
      /^\S+\/file\/w\.safetensors: could not save: ENOTDIR: not a directory, open '[^']+'$/,
    );
    assert.ok(e.message.startsWith(path));
    return true;
  });
});

test('when the final rename fails the temp file is removed and the target is untouched', async (t) => {
  const dir = fresh(t);
  const path = join(dir, 'w.safetensors');
  mkdirSync(join(path, 'inside'), { recursive: true });
  await assert.rejects(saveSafetensors(path, { w: f32([1], [1]) }), /w\.safetensors: could not save: EISDIR/);
  assert.deepEqual(readdirSync(dir), ['w.safetensors']);
  assert.deepEqual(readdirSync(path), ['inside']);
});
