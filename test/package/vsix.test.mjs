// Checks the packaged VSIX (dist-vsix/baton.vsix from `npm run package`, or $VSIX): it holds what the
// extension needs at run time and none of the sources, tests, source maps, node_modules or host tools.
// Run: npm run package && node --test test/package/vsix.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../scripts/lib/codeServer.mjs';
import { zipEntries, zipReadEntry } from '../../scripts/lib/zipEntries.mjs';

const VSIX = path.resolve(process.env.VSIX || path.join(REPO_ROOT, 'dist-vsix/baton.vsix'));

const files = () => {
  assert.ok(fs.existsSync(VSIX), `${path.relative(REPO_ROOT, VSIX)} is missing: run npm run package`);
  return zipEntries(VSIX).filter(f => !f.endsWith('/'));
};

test('the VSIX holds the manifest, bundles, sql.js wasm and icon', () => {
  const have = new Set(files());
  const required = [
    'extension/package.json', 'extension/dist/extension.js', 'extension/dist/cli.js', 'extension/dist/importWorker.js',
    'extension/dist/sql-wasm.wasm', 'extension/media/baton.svg',
  ];
  assert.deepEqual(required.filter(f => !have.has(f)), [], 'required files missing from the VSIX');
});

test("its package.json is Baton's manifest and its main bundle is in the VSIX", () => {
  const have = files();
  const pkg = JSON.parse(zipReadEntry(VSIX, 'extension/package.json').toString('utf8'));
  assert.equal(`${pkg.publisher}.${pkg.name}`, 'baton-dev.baton');
  assert.ok(pkg.main, 'package.json has no main');
  assert.ok(have.includes(`extension/${pkg.main.replace(/^\.\//, '')}`), `main ${pkg.main} is not in the VSIX`);
});

test('the VSIX holds no sources, tests, source maps, node_modules or host tools', () => {
  const bad = files().filter(f =>
    f.startsWith('extension/src/') || f.startsWith('extension/test/') || f.startsWith('extension/dist/test/')
    || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.map')
    || (/(^|\/)node_modules\//.test(f) && !f.startsWith('extension/dist/node_modules/node-pty/')) || f.includes('scripts/host') || f.startsWith('extension/scripts/')
    || f.startsWith('extension/bench/') || f.startsWith('extension/.'));
  assert.deepEqual(bad, [], 'files that must not be shipped (fix .vscodeignore)');
});

test('the VSIX has only the expected top-level entries', () => {
  // (vsce renames README.md/CHANGELOG.md to lower case and LICENSE to LICENSE.txt)
  const allowed = new Set(['package.json', 'readme.md', 'changelog.md', 'license.txt', 'license.md', 'license', 'dist', 'media', 'resources']);
  const top = [...new Set(files().filter(f => f.startsWith('extension/')).map(f => f.split('/')[1]))];
  const unexpected = top.filter(t => !allowed.has(t.toLowerCase()));
  assert.deepEqual(unexpected, [], 'unexpected top-level entries in the VSIX: ship them on purpose (update this test) or exclude them in .vscodeignore');
});
