/**
 * Worker-thread entry that parses plan documents off the owner's event loop (see ./importParser.ts).
 * Protocol (worker_threads messages): the parent posts `{ content, name }`; the worker parses with
 * `core/import/detect.importPlan` and answers `{ type: 'head', plan }` (the plan with every sprint's
 * tasks and the backlog emptied) or `{ type: 'error', message }`. Then each `'next'` from the parent is
 * answered with `{ type: 'tasks', sprint, tasks }` (up to TASKS_PER_MESSAGE top-level tasks with their
 * subtasks, in document order; `sprint` is the sprint's index, -1 for the backlog) until
 * `{ type: 'end' }`. Pulled one message at a time, so the parent decodes one bounded message per turn.
 */
import { parentPort } from 'node:worker_threads';
import { importPlan } from '../core/import/detect';
import type { ImportedPlan, ImportedTask } from '../core/import/importedPlan';

const TASKS_PER_MESSAGE = 200;

if (parentPort) {
  const port = parentPort;
  port.once('message', ({ content, name }: { content: string; name: string }) => {
    let plan: ImportedPlan;
    try {
      plan = importPlan(content, name);
    } catch (error) {
      port.postMessage({ type: 'error', message: (error as Error).message });
      return;
    }
    const parts: { sprint: number; tasks: ImportedTask[] }[] = [];
    const split = (sprint: number, tasks: ImportedTask[]) => {
      for (let i = 0; i < tasks.length; i += TASKS_PER_MESSAGE) parts.push({ sprint, tasks: tasks.slice(i, i + TASKS_PER_MESSAGE) });
    };
    plan.sprints.forEach((s, i) => split(i, s.tasks));
    split(-1, plan.backlog);
    port.postMessage({ type: 'head', plan: { ...plan, sprints: plan.sprints.map(s => ({ ...s, tasks: [] })), backlog: [] } });
    let next = 0;
    port.on('message', () => {
      const part = parts[next++];
      port.postMessage(part ? { type: 'tasks', ...part } : { type: 'end' });
    });
  });
}
