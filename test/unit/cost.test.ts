/*
 * Cost and tokens per session, task and sprint: the OTLP decoder on payloads captured from the real CLIs
 * (test/unit/fixtures/otlp, exported by Claude Code 2.1.329, Qwen Code 0.24.4, Gemini CLI 0.61.0 and Codex
 * 0.169.0 against the scripted model server), the receiver on a real owner's loopback server (its
 * per-session token), attribution to task and sprint, cumulative vs delta, "not reported", and `get_cost`.
 * The end-to-end runs with the real CLIs are in costReal.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createBatonMcpServer } from '../../src/mcp/batonMcpServer';
import { decodeLogsRequest, decodeMetricsRequest, OtlpDecodeError, type UsageSample } from '../../src/host/otlpDecode';
import { TelemetryTokens } from '../../src/host/telemetryTokens';
import { wireTelemetry } from '../../src/sessions/telemetryWiring';
import { BUILTIN_PROFILES } from '../../src/sessions/profiles';
import { TerminalSessionRepository, type TerminalSessionRecord } from '../../src/store/terminalSessionRepository';
import { formatUsage } from '../../src/services/usageService';
import { openTestOwner } from './helpers/owner';

const FIXTURES = path.resolve(__dirname, 'fixtures/otlp');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name));
const JSON_TYPE = 'application/json';
const user = { kind: 'user', name: 'ada' } as const;

/** Sum of the decoded samples of one kind. */
function sum(samples: UsageSample[], kind: string): number {
  return samples.filter(s => s.kind === kind).reduce((a, s) => a + s.value, 0);
}

test('Claude Code 2.1 export: tokens by type and cost in USD, DELTA, model from the data point; personal attributes not in the series', () => {
  const samples = decodeMetricsRequest(JSON_TYPE, fixture('claude-2.1.329-metrics.json'));
  // The scripted model server answered one request with 12005 input and 9 output tokens; Claude Code priced it.
  assert.equal(sum(samples, 'input'), 12005);
  assert.equal(sum(samples, 'output'), 9);
  assert.equal(sum(samples, 'cacheRead'), 0);
  assert.equal(sum(samples, 'cacheCreation'), 0);
  assert.equal(sum(samples, 'costUsd'), 0.0482);
  assert.ok(samples.every(s => s.source === 'claude' && s.temporality === 'delta' && s.model === 'claude-opus-5-5'));
  assert.ok(samples.every(s => !s.series.includes('user.id')), 'user.id is not kept');
  assert.equal(samples.length, 5, 'session.count and active_time are not usage');
});

test('Qwen Code 0.24 and Gemini CLI 0.61 exports: CUMULATIVE token sums, no cost; Codex 0.169: a DELTA histogram of tokens', () => {
  const qwen = decodeMetricsRequest(JSON_TYPE, fixture('qwen-0.24.4-metrics.json'));
  assert.deepEqual([sum(qwen, 'input'), sum(qwen, 'output'), sum(qwen, 'costUsd')], [30231, 16, 0]);
  assert.ok(qwen.every(s => s.source === 'qwen' && s.temporality === 'cumulative' && s.start !== ''));
  const gemini = decodeMetricsRequest(JSON_TYPE, fixture('gemini-0.61.0-metrics.json'));
  assert.deepEqual([sum(gemini, 'input'), sum(gemini, 'output')], [11826, 9]);
  assert.ok(gemini.every(s => s.source === 'gemini' && s.temporality === 'cumulative'));
  assert.ok(gemini.every(s => !s.series.includes('installation.id')), 'installation.id is not kept');
  const codex = decodeMetricsRequest(JSON_TYPE, fixture('codex-0.169.0-metrics.json'));
  assert.deepEqual([sum(codex, 'input'), sum(codex, 'output'), sum(codex, 'cacheRead')], [9880, 9, 0]);
  assert.ok(codex.every(s => s.source === 'codex' && s.temporality === 'delta'));
  assert.ok(!codex.some(s => /token_type=(total|reasoning_output)/.test(s.series)), 'total and reasoning (part of output) are not counted again');
});

test('the decoder refuses protobuf, malformed JSON and bad values, saying what was wrong; logs are counted', () => {
  assert.throws(() => decodeMetricsRequest('application/x-protobuf', Buffer.from([0x0a, 0x00])), (e: OtlpDecodeError) => e.status === 415 && /http\/json/.test(e.message));
  assert.throws(() => decodeMetricsRequest(JSON_TYPE, Buffer.from('{"resourceMetrics": [')), (e: OtlpDecodeError) => e.status === 400 && /not valid JSON/.test(e.message));
  const bad = { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'claude_code.token.usage', sum: { aggregationTemporality: 1, dataPoints: [{ attributes: [{ key: 'type', value: { stringValue: 'input' } }], asDouble: -3 }] } }] }] }] };
  assert.throws(() => decodeMetricsRequest(JSON_TYPE, Buffer.from(JSON.stringify(bad))), /not a non-negative number/);
  assert.equal(decodeLogsRequest('application/json; charset=utf-8', fixture('claude-2.1.329-logs.json')), 8);
});

test('telemetry tokens name one session; a token changed by one character, another key\'s token or a bare id is refused', () => {
  const tokens = new TelemetryTokens('k'.repeat(32));
  const token = tokens.tokenFor('run-3');
  assert.equal(tokens.sessionOf(token), 'run-3');
  assert.equal(tokens.sessionOf(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null);
  assert.equal(new TelemetryTokens('x'.repeat(32)).sessionOf(token), null);
  assert.equal(tokens.sessionOf('run-3'), null);
  assert.equal(tokens.sessionOf(`run-4.${token.split('.')[1]}`), null, "run-3's signature does not open run-4");
  assert.throws(() => tokens.tokenFor('../x'), /letters, digits/);
});

test('wiring: each CLI gets per-session environment (Codex a -c override) with the token only in OTEL_EXPORTER_OTLP_METRICS_HEADERS; aider nothing', () => {
  const endpoint = { url: 'http://127.0.0.1:4318/otlp', token: 'run-1.secret' };
  const of = (id: string) => wireTelemetry(BUILTIN_PROFILES.find(p => p.id === id)!, endpoint);
  const claude = of('claude');
  assert.equal(claude.env.CLAUDE_CODE_ENABLE_TELEMETRY, '1');
  assert.equal(claude.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, 'http/json');
  assert.equal(claude.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, `${endpoint.url}/v1/metrics`);
  assert.equal(of('gemini').env.GEMINI_TELEMETRY_OTLP_ENDPOINT, endpoint.url);
  assert.equal(of('qwen').env.QWEN_TELEMETRY_ENABLED, 'true');
  assert.deepEqual(of('codex').args, ['-c', 'otel.metrics_exporter={otlp-http={endpoint="http://127.0.0.1:4318/otlp/v1/metrics",protocol="json"}}']);
  for (const id of ['claude', 'gemini', 'qwen', 'codex']) {
    const w = of(id);
    assert.equal(w.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS, 'Authorization=Bearer run-1.secret');
    assert.ok(!Object.keys(w.env).some(k => /^OTEL_(LOGS|TRACES)_|^OTEL_EXPORTER_OTLP_(HEADERS|ENDPOINT|PROTOCOL)$/.test(k)), `${id}: traces and logs settings of programs the agent runs are left alone`);
    assert.ok(!w.args.join(' ').includes('secret') && !w.description.includes('secret'), `${id}: the token is not on the command line or in the log`);
  }
  assert.deepEqual(of('aider'), { args: [], env: {}, reports: false, description: 'Aider reports no usage Baton can read: its tokens and cost show as "not reported"' });
  assert.throws(() => wireTelemetry(BUILTIN_PROFILES[0], { url: 'http://example.com/otlp', token: 't' }), /loopback/);
});

let owner: Awaited<ReturnType<typeof openTestOwner>>;
let sessions: TerminalSessionRepository;
before(async () => {
  owner = await openTestOwner({ mcp: true });
  sessions = new TerminalSessionRepository(owner.db);
});
after(async () => {
  await owner?.cleanup();
});

/** Records terminal session `run-<n>` as SessionManager does, on `taskId` (or, a reviewer session, reviewing `reviewTaskId`). */
function recordSession(taskId: string | null, profile = 'claude', reviewTaskId: string | null = null): string {
  const num = sessions.nextNumber();
  const record: TerminalSessionRecord = {
    id: `run-${num}`, profile, title: profile, command: profile, taskId, cwd: '/tmp', worktree: null, branch: null, tmuxSession: null, pid: null,
    state: 'exited', startedAt: new Date().toISOString(), endedAt: null, exitCode: null, endReason: null, lastOutput: '', reviewTaskId,
  };
  sessions.insert(num, record);
  return record.id;
}

async function post(signal: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; text: string; auth: string | null }> {
  const endpoint = owner.telemetryEndpoint()!;
  const res = await fetch(`${endpoint.url}/v1/${signal}`, { method: 'POST', headers: { 'content-type': JSON_TYPE, ...headers }, body });
  return { status: res.status, text: await res.text(), auth: res.headers.get('www-authenticate') };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('the receiver on the owner\'s loopback server: no token, the agents\' MCP token, the operator token and a forged token get 401; the session\'s own token stores its usage', async () => {
  const sprint = owner.plan.createSprint({ name: 'Receiver' }, user);
  const task = owner.plan.createTask({ title: 'Count tokens', sprintId: sprint.id }, user);
  const id = recordSession(task.id);
  const endpoint = owner.telemetryEndpoint()!;
  assert.match(endpoint.url, /^http:\/\/127\.0\.0\.1:\d+\/otlp$/);
  const body = fixture('claude-2.1.329-metrics.json');
  const operatorToken = fs.readFileSync(path.join(owner.storageDir, 'mcp-operator-token'), 'utf8').trim();
  for (const headers of [{}, bearer(owner.readToken()!), bearer(operatorToken), bearer(`${id}.forged`), bearer(endpoint.tokenFor(id).replace(id, 'run-999'))]) {
    const r = await post('metrics', body, headers);
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.match(r.auth ?? '', /Bearer/);
  }
  assert.equal(owner.services.usage.forSession(id).reported, false, 'nothing stored from refused requests');
  const ok = await post('metrics', body, bearer(endpoint.tokenFor(id)));
  assert.deepEqual([ok.status, ok.text], [200, '{}']);
  const usage = owner.services.usage.forSession(id);
  assert.deepEqual(usage.tokens, { input: 12005, output: 9, cacheRead: 0, cacheCreation: 0 });
  assert.equal(usage.costUsd, 0.0482);
  // The same delta export again is more usage (DELTA points add up).
  await post('metrics', body, bearer(endpoint.tokenFor(id)));
  assert.equal(owner.services.usage.forSession(id).tokens.input, 24010);
  // Logs and traces are accepted and dropped; protobuf is refused with the reason; another path is 404.
  assert.equal((await post('logs', fixture('claude-2.1.329-logs.json'), bearer(endpoint.tokenFor(id)))).status, 200);
  const proto = await post('metrics', Buffer.from([0x0a, 0x00]), { ...bearer(endpoint.tokenFor(id)), 'content-type': 'application/x-protobuf' });
  assert.equal(proto.status, 415);
  assert.match(proto.text, /http\/json/);
  const unknown = await post('metrics', body, bearer(endpoint.tokenFor('run-9999')));
  assert.equal(unknown.status, 404, 'a token for a session Baton never recorded stores nothing');
  // A body larger than the MCP limit (the test owner's is 64 KB; Codex sends ~600 KB of histograms at exit) is taken.
  const big = JSON.parse(body.toString('utf8'));
  big.resourceMetrics[0].scopeMetrics[0].metrics.push({ name: 'padding.histogram', histogram: { aggregationTemporality: 1, dataPoints: Array.from({ length: 4000 }, (_, i) => ({ attributes: [{ key: 'i', value: { intValue: i } }], count: 1, sum: 1, bucketCounts: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], explicitBounds: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] })) } });
  const bigText = JSON.stringify(big);
  assert.ok(bigText.length > 600_000, `${bigText.length} bytes`);
  assert.equal((await post('metrics', bigText, bearer(endpoint.tokenFor(id)))).status, 200);
  assert.equal(owner.services.usage.forSession(id).tokens.input, 36015);
  // The MCP endpoint still refuses the telemetry token.
  const mcp = await fetch(owner.mcpUrl!, { method: 'POST', headers: { ...bearer(endpoint.tokenFor(id)), 'content-type': JSON_TYPE, accept: 'application/json, text/event-stream' }, body: '{}' });
  assert.equal(mcp.status, 401);
});

test('attribution: sessions → their task → its sprint; cumulative exports replace the earlier total of their series; a session without telemetry is "not reported", never 0', async () => {
  const s1 = owner.plan.createSprint({ name: 'Sprint with usage' }, user);
  const s2 = owner.plan.createSprint({ name: 'Other sprint' }, user);
  const a = owner.plan.createTask({ title: 'Task A', sprintId: s1.id }, user);
  const b = owner.plan.createTask({ title: 'Task B', sprintId: s1.id }, user);
  const c = owner.plan.createTask({ title: 'Task C', sprintId: s2.id }, user);
  const endpoint = owner.telemetryEndpoint()!;
  const claudeOnA = recordSession(a.id, 'claude');
  const qwenOnA = recordSession(a.id, 'qwen');
  const aiderOnB = recordSession(b.id, 'aider');
  const claudeOnC = recordSession(c.id, 'claude');
  await post('metrics', fixture('claude-2.1.329-metrics.json'), bearer(endpoint.tokenFor(claudeOnA)));
  const qwen = fixture('qwen-0.24.4-metrics.json');
  await post('metrics', qwen, bearer(endpoint.tokenFor(qwenOnA)));
  await post('metrics', qwen, bearer(endpoint.tokenFor(qwenOnA)));
  assert.equal(owner.services.usage.forSession(qwenOnA).tokens.input, 30231, 'the same cumulative total twice counts once');
  // A later cumulative export of the same series (same start time) with a higher total replaces it.
  const later = JSON.parse(qwen.toString('utf8'));
  for (const rm of later.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) {
    if (m.name === 'qwen-code.token.usage') for (const p of m.sum.dataPoints) if (p.attributes.some((x: any) => x.value.stringValue === 'input')) p.asInt = 40000;
  }
  await post('metrics', JSON.stringify(later), bearer(endpoint.tokenFor(qwenOnA)));
  assert.equal(owner.services.usage.forSession(qwenOnA).tokens.input, 40000);
  await post('metrics', fixture('claude-2.1.329-metrics.json'), bearer(endpoint.tokenFor(claudeOnC)));

  const report = owner.services.usage.report(s1.id);
  assert.equal(report.sprintId, s1.id);
  const taskA = report.tasks.find(t => t.taskId === a.id)!;
  assert.deepEqual([taskA.tokens.input, taskA.tokens.output, taskA.costUsd], [12005 + 40000, 9 + 16, 0.0482]);
  assert.deepEqual(taskA.sources, ['claude', 'qwen']);
  assert.deepEqual(report.total.tokens.input, 52005, "the sprint's total is its tasks' (task C's session is in another sprint)");
  const taskB = report.tasks.find(t => t.taskId === b.id)!;
  assert.equal(taskB.reported, false);
  assert.equal(formatUsage(taskB), 'not reported');
  const aider = report.sessions.find(s => s.sessionId === aiderOnB)!;
  assert.deepEqual([aider.reported, aider.totalTokens, aider.costUsd], [false, null, null]);
  assert.ok(!report.sessions.some(s => s.sessionId === claudeOnC));
  assert.match(formatUsage(owner.services.usage.forSession(qwenOnA)), /40,016 tokens \(40,000 in, 16 out\) · cost not reported/);
  assert.equal(owner.services.usage.forTask(c.id).tokens.input, 12005);
});

test("a reviewer session's tokens count to the task it reviews (it holds no task), in the task's and its sprint's totals", async () => {
  const sprint = owner.plan.createSprint({ name: 'Reviewed sprint' }, user);
  const task = owner.plan.createTask({ title: 'Reviewed task', sprintId: sprint.id }, user);
  const endpoint = owner.telemetryEndpoint()!;
  const implementer = recordSession(task.id, 'claude');
  const reviewer = recordSession(null, 'qwen', task.id);
  await post('metrics', fixture('claude-2.1.329-metrics.json'), bearer(endpoint.tokenFor(implementer)));
  await post('metrics', fixture('qwen-0.24.4-metrics.json'), bearer(endpoint.tokenFor(reviewer)));
  assert.equal(sessions.get(reviewer)?.taskId, null, 'the reviewer still holds no task');
  assert.equal(owner.services.usage.forTask(task.id).tokens.input, 12005 + 30231, "the implementer's and the reviewer's tokens");
  const report = owner.services.usage.report(sprint.id);
  assert.deepEqual(report.tasks.map(t => [t.taskId, t.tokens.input, t.sources]), [[task.id, 12005 + 30231, ['claude', 'qwen']]]);
  assert.deepEqual(report.sessions.map(s => [s.sessionId, s.taskId]), [[implementer, task.id], [reviewer, task.id]], 'the reviewer is listed on the task it reviewed');
});

test('get_cost over MCP: read-only (annotated), not in the core tier, in full and operator; a sprint filter; an unknown sprint is a tool error naming it', async () => {
  const client = async (tier: 'core' | 'full' | 'operator') => {
    const server = createBatonMcpServer(owner.services, { version: 'test', tier, mcpSessionId: () => undefined, operatorName: 'ada' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const c = new Client({ name: `cost-${tier}`, version: '1.0.0' });
    await c.connect(clientSide);
    return c;
  };
  const core = await client('core');
  assert.ok(!(await core.listTools()).tools.some(t => t.name === 'get_cost'));
  const full = await client('full');
  const tool = (await full.listTools()).tools.find(t => t.name === 'get_cost')!;
  assert.deepEqual(tool.annotations, { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false });
  const operator = await client('operator');
  const sprint = owner.plan.createSprint({ name: 'MCP cost' }, user);
  const task = owner.plan.createTask({ title: 'Priced over MCP', sprintId: sprint.id }, user);
  const id = recordSession(task.id);
  await post('metrics', fixture('claude-2.1.329-metrics.json'), bearer(owner.telemetryEndpoint()!.tokenFor(id)));
  const answer = await operator.callTool({ name: 'get_cost', arguments: { sprint_id: sprint.id } });
  const report = JSON.parse((answer.content as { text: string }[])[0].text);
  assert.equal(report.sprint_id, sprint.id);
  assert.deepEqual(report.total.tokens, { input: 12005, output: 9, cache_read: 0, cache_creation: 0, thought: null, tool: null });
  assert.equal(report.total.cost_usd, 0.0482);
  assert.equal(report.total.usage, '12,014 tokens (12,005 in, 9 out) · $0.0482');
  assert.deepEqual(report.sessions.map((s: any) => s.session_id), [id]);
  const missing = await operator.callTool({ name: 'get_cost', arguments: { sprint_id: 'S-999' } });
  assert.equal(missing.isError, true);
  assert.match((missing.content as { text: string }[])[0].text, /S-999/);
  await Promise.all([core.close(), full.close(), operator.close()]);
});
