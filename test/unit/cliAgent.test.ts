import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_ARGS, makeCliSandbox } from './helpers/cli';

// `baton agent`: which agent does a task, or a sprint's tasks by default; `baton show` / `baton tasks`
// print it. Real processes, real state (the CLI calls the owner's MCP tools like every command).

const repo = path.resolve(__dirname, '../..');
const PLAN = `# Tiny plan

### Sprint 1: Core
Agent: claude

#### T1: Set up the database @codex
Pick and configure the database.

#### T2: Write the API
Expose the endpoints.
`;

let workspace: string;
let sandbox: ReturnType<typeof makeCliSandbox>;
before(() => {
  sandbox = makeCliSandbox();
  ({ workspace } = sandbox);
  fs.writeFileSync(path.join(workspace, 'PLAN.md'), PLAN);
});
after(() => sandbox.remove());

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [...CLI_ARGS, ...args, '--workspace', workspace], { env: sandbox.env, encoding: 'utf8', cwd: repo });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function ok(...args: string[]): string {
  const r = run(...args);
  assert.equal(r.code, 0, `baton ${args.join(' ')}: ${r.err}`);
  return r.out;
}

test('baton agent sets, shows and clears a task\'s agent and a sprint\'s default; bad values are refused naming them', () => {
  assert.match(ok('import', path.join(workspace, 'PLAN.md')), /tasks: 2 new/);
  assert.equal(ok('agent', 'T-2', 'gemini:reviewer'), 'T-2: agent gemini:reviewer\n');
  const tasks = ok('tasks');
  assert.match(tasks, /S-1 {2}Sprint 1: Core {2}\(agent claude\)/);
  assert.match(tasks, /T-1 +T1: Set up the database {2}\(→ codex\)/, 'the plan\'s @codex mention');
  assert.match(tasks, /T-2 +T2: Write the API {2}\(→ gemini:reviewer\)/);
  assert.match(ok('show', 'T-2'), /^ {2}agent: gemini:reviewer$/m);

  assert.equal(ok('agent', '2', '--clear'), 'T-2: no agent (the sprint\'s or workspace\'s default)\n');
  assert.match(ok('show', 'T-2'), /^ {2}agent: claude \(the sprint's default\)$/m);
  assert.equal(ok('agent', 's-1', 'aider'), 'S-1: tasks default to agent aider\n');
  assert.match(ok('show', 'T-2'), /^ {2}agent: aider \(the sprint's default\)$/m);
  assert.equal(JSON.parse(ok('show', 'T-1', '--json')).agent, 'codex');

  const bad = run('agent', 'T-1', 'claude code');
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /agent must be "profile" or "profile:role"/);
  const neither = run('agent', 'T-1');
  assert.notEqual(neither.code, 0);
  assert.match(neither.err, /Give the agent .* or --clear/);
  assert.match(ok('show', 'T-1'), /^ {2}agent: codex$/m, 'nothing changed');
});
