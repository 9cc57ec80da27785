/**
 * Parses plan documents in a worker thread (./importWorker.ts), so a large import does not hold the
 * owner's event loop while the markdown or Task Master importer runs. The result is fetched one bounded
 * message at a time, with a `setImmediate` turn between messages, so decoding it does not stall either.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { importPlan } from '../core/import/detect';
import type { ImportedPlan, ImportedTask } from '../core/import/importedPlan';

/** The worker's script: `importWorker.js` next to the bundle (dist/), or the TypeScript source when run from src/ (tests, tsx). */
function workerScript(): string | null {
  for (const name of ['importWorker.js', 'importWorker.ts']) {
    const file = path.join(__dirname, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/**
 * Returns a `parseDocument` for `PlanService`: resolves to what `core/import/detect.importPlan(content,
 * name)` returns, or rejects with its error (message unchanged). One worker per call, ended afterwards.
 * When the worker script is missing or the worker cannot start, parses on the calling thread instead and
 * says so through `log` (the import still works; it just holds the event loop while parsing).
 */
export function createWorkerParser(log: (message: string) => void = () => undefined): (content: string, name: string) => Promise<ImportedPlan> {
  return (content, name) => {
    const script = workerScript();
    if (!script) {
      log('Baton: the plan import worker (importWorker.js) is missing; parsing on the main thread.');
      return Promise.resolve().then(() => importPlan(content, name));
    }
    return new Promise<ImportedPlan>((resolve, reject) => {
      let plan: ImportedPlan | null = null;
      let settled = false;
      // From TypeScript sources (tests run under tsx) the worker registers tsx's loader before loading the script.
      const worker = script.endsWith('.ts')
        ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true })
        : new Worker(script);
      const finish = (error: Error | null, result?: ImportedPlan) => {
        if (settled) return;
        settled = true;
        void worker.terminate();
        if (error) reject(error);
        else resolve(result!);
      };
      worker.on('message', (msg: { type: string; plan?: ImportedPlan; message?: string; sprint?: number; tasks?: ImportedTask[] }) => {
        if (msg.type === 'error') return finish(new Error(msg.message));
        if (msg.type === 'head') plan = msg.plan!;
        else if (msg.type === 'tasks') {
          const target = msg.sprint === -1 ? plan!.backlog : plan!.sprints[msg.sprint!].tasks;
          for (const t of msg.tasks!) target.push(t);
        } else if (msg.type === 'end') return finish(null, plan!);
        setImmediate(() => worker.postMessage('next'));
      });
      worker.on('error', error => finish(error));
      worker.on('exit', code => finish(new Error(`the plan import worker stopped (exit code ${code}) before it answered`)));
      worker.postMessage({ content, name });
    });
  };
}
