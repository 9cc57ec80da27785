/**
 * Plan import throughput: a Task Master tasks.json of n tasks in one dependency chain (n − 1 edges) imported
 * into a fresh durable workspace through PlanService.importDocumentAsync (the path MCP import_plan, the CLI
 * and VS Code take), at each size, with the longest event-loop stall during the import measured by
 * `perf_hooks.monitorEventLoopDelay` (resolution 1 ms; the auto snapshot the durable store may take right
 * after the import is included). The baseline's synchronous importDocument is timed only. The comparison is the
 * code before import was made linear (git `BENCH_IMPORT_BASELINE`, default `e472fa0`), exported from git
 * into a temp folder and measured in the same run; it is quadratic, so it runs only up to
 * `baselineMaxTasks` and larger sizes say so instead of waiting for hours.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
  /** Longest event-loop stall during the import, in ms (null for a synchronous import: it stalls for all of `ms`). */
  maxStallMs: number | null;
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

type Report = { tasks: { created: number }; dependencies: { created: number } };
type OwnerModule = { WorkspaceOwner: { open(o: unknown): Promise<{ plan: {
  importDocument(c: string, s: string, a: unknown): Report;
  importDocumentAsync?(c: string, s: string, a: unknown): Promise<Report>;
}; close(): Promise<void> }> } };

async function timeImport(mod: OwnerModule, n: number, text: string): Promise<{ ms: number; deps: number; maxStallMs: number | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-import-bench-'));
  const owner = await mod.WorkspaceOwner.open({ storageDir: dir, kind: 'cli', version: 'bench', log: () => undefined, mcp: null });
  try {
    const user = { kind: 'user', name: 'bench' };
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const t0 = nowMs();
    const report = owner.plan.importDocumentAsync
      ? await owner.plan.importDocumentAsync(text, 'bench/tasks.json', user)
      : owner.plan.importDocument(text, 'bench/tasks.json', user);
    const ms = nowMs() - t0;
    // Let a snapshot the import made due run inside the measurement (it is part of what the host pays).
    await new Promise(resolve => setTimeout(resolve, 50));
    delay.disable();
    if (report.tasks.created !== n) throw new Error(`import bench: created ${report.tasks.created} of ${n} tasks`);
    return { ms, deps: report.dependencies.created, maxStallMs: owner.plan.importDocumentAsync ? delay.max / 1e6 : null };
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
      options.log(`  import ${n} tasks: ${(now.ms / 1000).toFixed(2)} s, longest event-loop stall ${now.maxStallMs === null ? 'n/a' : `${now.maxStallMs.toFixed(0)} ms`}`);
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
      sizes.push({ tasks: n, dependencies: now.deps, ms: now.ms, tasksPerSecond: n / (now.ms / 1000), maxStallMs: now.maxStallMs, baseline: base });
    }
  } finally {
    fs.rmSync(baseline.dir, { recursive: true, force: true });
  }
  return { baselineCommit, sizes };
}
