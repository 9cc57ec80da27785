import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CORE_TOOLS, toolNamesOfTier, toolSetVersion } from '../../src/mcp/batonMcpServer';
import { connectAgent } from './helpers/agent';
import { openTestOwner } from './helpers/owner';

// Item 20 of issue 7: the version of the MCP server definition Baton gives VS Code depends on the tool
// set, so VS Code's tool cache refreshes when baton.mcp.toolTier changes (in-host: test/integration/mcp.test.ts).

let owner: Awaited<ReturnType<typeof openTestOwner>>;
before(async () => { owner = await openTestOwner({ mcp: true, tier: 'core' }); });
after(async () => { await owner.cleanup(); });

test('toolNamesOfTier is what a client of that tier is listed, and records no agent session', async () => {
  const core = toolNamesOfTier(owner.services, 'core');
  assert.deepEqual(core, [...CORE_TOOLS].sort());
  const agent = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'lister');
  assert.deepEqual((await agent.listTools()).tools.map(t => t.name).sort(), core);
  await agent.close();
  owner.setAgentTier('full');
  const full = toolNamesOfTier(owner.services, 'full');
  const fullAgent = await connectAgent(owner.mcpUrl!, owner.readToken()!, 'lister-full');
  assert.deepEqual((await fullAgent.listTools()).tools.map(t => t.name).sort(), full);
  await fullAgent.close();
  assert.ok(full.length > core.length && core.every(n => full.includes(n)));
  assert.ok(!full.includes('approve') && toolNamesOfTier(owner.services, 'operator').includes('approve'));
  assert.deepEqual(owner.services.sessions.list({ limit: 10 }).map(s => s.agentName).sort(), ['lister', 'lister-full'], 'only the two real clients');
});

test('toolSetVersion changes with the tool set, not with its order', () => {
  const core = toolNamesOfTier(owner.services, 'core');
  const full = toolNamesOfTier(owner.services, 'full');
  assert.match(toolSetVersion('0.1.0', core), /^0\.1\.0\+tools\.[0-9a-f]{12}$/);
  assert.notEqual(toolSetVersion('0.1.0', core), toolSetVersion('0.1.0', full));
  assert.equal(toolSetVersion('0.1.0', core), toolSetVersion('0.1.0', [...core].reverse()));
  assert.notEqual(toolSetVersion('0.1.0', core), toolSetVersion('0.2.0', core));
});
