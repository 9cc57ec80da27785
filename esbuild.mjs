// Builds Baton: the extension host bundle, the `baton` CLI and the in-host test suite.
// Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const dist = path.join(root, 'dist');

/** Copies runtime assets the bundles load from disk (sql.js' WebAssembly) into dist/. */
const copyAssets = {
  name: 'copy-assets',
  setup(build) {
    build.onEnd(result => {
      if (result.errors.length) return;
      fs.mkdirSync(dist, { recursive: true });
      fs.copyFileSync(path.join(root, 'node_modules/sql.js/dist/sql-wasm.wasm'), path.join(dist, 'sql-wasm.wasm'));
      copyNodePty();
    });
  },
};

/**
 * node-pty is a Node-API native module: never bundled, loaded lazily at run time. Its runtime files
 * (the JS in lib/, the built binary, package.json) are copied to dist/node_modules/node-pty so the
 * packaged extension (vsce --no-dependencies) finds it next to the bundles. Skipped, with a warning,
 * when node-pty is not built here: sessions are then disabled with a message, the rest works.
 */
function copyNodePty() {
  const from = path.join(root, 'node_modules/node-pty');
  const binary = path.join(from, 'build/Release/pty.node');
  if (!fs.existsSync(binary)) {
    console.warn('[esbuild] node-pty is not built: agent sessions will be disabled in this build');
    return;
  }
  const to = path.join(dist, 'node_modules/node-pty');
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(path.join(to, 'build/Release'), { recursive: true });
  fs.copyFileSync(path.join(from, 'package.json'), path.join(to, 'package.json'));
  fs.copyFileSync(binary, path.join(to, 'build/Release/pty.node'));
  fs.cpSync(path.join(from, 'lib'), path.join(to, 'lib'), {
    recursive: true,
    filter: src => fs.statSync(src).isDirectory() || (src.endsWith('.js') && !src.endsWith('.test.js')),
  });
}

/** Logs build results in watch mode, in the format VS Code's esbuild problem matchers read. */
const reportProblems = {
  name: 'report-problems',
  setup(build) {
    build.onStart(() => { if (watch) console.log('[watch] build started'); });
    build.onEnd(result => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      if (watch) console.log('[watch] build finished');
    });
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  // Native modules and the host's API are never bundled.
  external: ['vscode', 'node-pty', '@lydell/node-pty'],
  // jsonc-parser's "main" is a UMD build whose require('./impl/…') calls esbuild cannot follow: bundle its ES modules.
  alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
  logLevel: 'warning',
  logOverride: { 'import-is-undefined': 'error' },
  plugins: [copyAssets, reportProblems],
};

const builds = [
  { ...common, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' },
  { ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  // Plan documents are parsed in a worker thread (src/host/importParser.ts loads dist/importWorker.js).
  { ...common, entryPoints: { importWorker: 'src/host/importWorker.ts' }, outdir: 'dist' },
];
// The in-host test suite (mocha inside the real extension host) is built outside --production only.
if (!production) {
  builds.push({ ...common, entryPoints: { 'integration/index': 'test/integration/index.ts' }, outdir: 'dist/test', external: [...common.external, 'mocha', 'playwright-core'] });
}

if (watch) {
  const contexts = await Promise.all(builds.map(b => esbuild.context(b)));
  await Promise.all(contexts.map(c => c.watch()));
} else {
  await Promise.all(builds.map(b => esbuild.build(b)));
  const cli = path.join(dist, 'cli.js');
  if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
}
