/**
 * Plan import throughput: a Task Master tasks.json of n tasks in one dependency chain (n − 1 edges) imported
 * into a fresh durable workspace through PlanService.importDocument, at each size. The comparison is the
 * code before import was made linear (git `BENCH_IMPORT_BASELINE`, default `e472fa0`), exported from git
 * into a temp folder and measured in the same run; it is quadratic, so it runs only up to
 * `baselineMaxTasks` and larger sizes say so instead of waiting for hours.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WorkspaceOwner } from '../src/host/workspaceOwner';
import { nowMs } from './stats';

export interface ImportBenchOptions {
  sizes: number[];
  baselineMaxTasks: number;
  log: (line: string) => void;
}

export interface ImportSizeResult {
  tasks: number;
  dependencies: number;
  ms: number;
  tasksPerSecond: number;
  baseline: { ms: number; tasksPerSecond: number } | { skipped: string };
}

export interface ImportBenchResult {
  baselineCommit: string;
  sizes: ImportSizeResult[];
}

/** A Task Master tasks.json of `n` tasks, each depending on the one before. */
export function taskMasterChain(n: number): string {
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: i + 1, title: `Task ${i + 1}`, description: `Step ${i + 1} of the chain`, status: 'pending', priority: 'medium',
    dependencies: i === 0 ? [] : [i],
  }));
  return JSON.stringify({ master: { tasks, metadata: { description: 'chain' } } });
}

type OwnerModule = { WorkspaceOwner: { open(o: unknown): Promise<{ plan: { importDocument(c: string, s: string, a: unknown): { tasks: { created: number }; dependencies: { created: number } } }; close(): Promise<void> }> } };

async function timeImport(mod: OwnerModule, n: number, text: string): Promise<{ ms: number; deps: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-import-bench-'));
  const owner = await mod.WorkspaceOwner.open({ storageDir: dir, kind: 'cli', version: 'bench', log: () => undefined, mcp: null });
  try {
    const t0 = nowMs();
    const report = owner.plan.importDocument(text, 'bench/tasks.json', { kind: 'user', name: 'bench' });
    const ms = nowMs() - t0;
    if (report.tasks.created !== n) throw new Error(`import bench: created ${report.tasks.created} of ${n} tasks`);
    return { ms, deps: report.dependencies.created };
  } finally {
    await owner.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Exports `commit`'s src/ into a temp folder whose node_modules is this checkout's, and loads its owner module. */
async function loadBaseline(commit: string): Promise<{ mod: OwnerModule; dir: string }> {
  const root = path.resolve(__dirname, '..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-import-baseline-'));
  const tar = execFileSync('git', ['-C', root, 'archive', commit, 'src'], { maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules')), path.join(dir, 'node_modules'));
  const mod = (await import(path.join(dir, 'src/host/workspaceOwner.ts'))) as OwnerModule;
  return { mod, dir };
}

/** Runs the import bench; see the module docs. */
export async function runImportBench(options: ImportBenchOptions): Promise<ImportBenchResult> {
  const baselineCommit = process.env.BENCH_IMPORT_BASELINE ?? 'e472fa0';
  const current = { WorkspaceOwner } as unknown as OwnerModule;
  const baseline = await loadBaseline(baselineCommit);
  const sizes: ImportSizeResult[] = [];
  let lastBaseline: { n: number; ms: number } | null = null;
  try {
    // Warm both modules' code paths (JIT, sql.js) so the first size is not charged for it.
    await timeImport(current, 100, taskMasterChain(100));
    await timeImport(baseline.mod, 100, taskMasterChain(100));
    for (const n of options.sizes) {
      const text = taskMasterChain(n);
      const now = await timeImport(current, n, text);
      options.log(`  import ${n} tasks: ${(now.ms / 1000).toFixed(2)} s`);
      let base: ImportSizeResult['baseline'];
      if (n <= options.baselineMaxTasks) {
        const b = await timeImport(baseline.mod, n, text);
        options.log(`  baseline ${n} tasks: ${(b.ms / 1000).toFixed(2)} s`);
        base = { ms: b.ms, tasksPerSecond: n / (b.ms / 1000) };
        lastBaseline = { n, ms: b.ms };
      } else {
        const estimate = lastBaseline ? ` (quadratic: ~${Math.round((lastBaseline.ms / 1000) * (n / lastBaseline.n) ** 2)} s estimated from ${lastBaseline.n} tasks)` : '';
        base = { skipped: `not run above ${options.baselineMaxTasks} tasks${estimate}` };
      }
      sizes.push({ tasks: n, dependencies: now.deps, ms: now.ms, tasksPerSecond: n / (now.ms / 1000), baseline: base });
    }
  } finally {
    fs.rmSync(baseline.dir, { recursive: true, force: true });
  }
  return { baselineCommit, sizes };
}
