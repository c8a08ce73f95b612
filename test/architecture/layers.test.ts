import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/*
 * The architecture, checked on the sources: the README's layer table lists every folder of src/ in
 * data-flow order, each folder imports only the folders above it in that table, and no module imports
 * itself through others.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const src = join(repo, 'src');

/** The folders in the order of the README's "How it works" table (rows that start with `folder`). */
function readmeLayers(): string[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## How it works'));
  return [...section.matchAll(/^\| `([a-z-]+)` +\|/gm)].map((m) => m[1]);
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Each module's relative imports (static, dynamic and re-exports), as source paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

const layerOf = (file: string) => relative(src, file).split(sep)[0].replace(/\.ts$/, '');

test("the README's layer table lists every folder of src/ once", () => {
  const folders = readdirSync(src).filter((n) => statSync(join(src, n)).isDirectory());
  const listed = readmeLayers();
  assert.deepEqual([...listed].sort(), [...folders].sort());
  assert.equal(new Set(listed).size, listed.length);
});

test('each folder of src/ imports only the folders above it in the table', () => {
  const order = readmeLayers();
  const bad: string[] = [];
  for (const file of sources(src)) {
    const from = layerOf(file);
    if (from === 'index') continue; // the library's entry point re-exports from every layer
    for (const target of imports(file)) {
      const to = layerOf(target);
      if (to !== from && order.indexOf(to) >= order.indexOf(from))
        bad.push(`${relative(repo, file)} imports ${relative(repo, target)} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no module imports itself through others', () => {
  const files = sources(src);
  const graph = new Map(files.map((f) => [f, imports(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    state.set(f, 'open');
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open')
        cycles.push([...path.slice(path.indexOf(g)), g].map((p) => relative(src, p)).join(' -> '));
      else if (!state.has(g)) visit(g, [...path, g]);
    }
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f, [f]);
  assert.deepEqual(cycles, []);
});
