// In the real extension host: VS Code's own MCP client (agent mode) and Baton's server definition
// provider (issue 7, item 20). VS Code starts Baton's server through the provider, authenticates with the
// token Baton adds in resolveMcpServerDefinition (the provided, saved definition carries none), and lists
// Baton's tools in vscode.lm.tools as mcp_baton_*; changing baton.mcp.toolTier changes the definition's
// version and the tools VS Code lists.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BatonApi } from '../../src/extension';
import { CORE_TOOLS } from '../../src/mcp/batonMcpServer';
import { batonApi, EXTENSION_ID } from './extensionApi';

/** The id VS Code gives the server: `<extension id, lower case>/<label>`. */
const SERVER_ID = `${EXTENSION_ID.toLowerCase()}/Baton`;
const PREFIX = 'mcp_baton_';

/** Baton's tools as VS Code lists them (without the `mcp_baton_` prefix), sorted. */
function batonToolsInVsCode(): string[] {
  return vscode.lm.tools.filter(t => t.name.startsWith(PREFIX)).map(t => t.name.slice(PREFIX.length)).sort();
}

async function until<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

suite('VS Code\'s own MCP client sees Baton', () => {
  let baton: BatonApi;

  suiteSetup(async () => {
    baton = await batonApi();
    assert.ok(baton.mcpUrl, 'the MCP server is running');
    assert.ok(baton.mcpDefinitions, 'Baton registered its MCP server definition provider');
  });

  suiteTeardown(async () => {
    await vscode.workspace.getConfiguration().update('baton.mcp.toolTier', undefined, vscode.ConfigurationTarget.Workspace);
    await vscode.commands.executeCommand('workbench.mcp.stopServer', SERVER_ID).then(undefined, () => undefined);
  });

  test('the definition VS Code saves carries no token; the one it starts carries the agents\' token', async () => {
    const [definition, ...more] = baton.mcpDefinitions!.provideMcpServerDefinitions();
    assert.equal(more.length, 0);
    assert.equal(definition.label, 'Baton');
    assert.equal(definition.uri.toString(true), baton.mcpUrl);
    assert.deepEqual(definition.headers, {}, 'no Authorization header in the provided definition');
    const resolved = baton.mcpDefinitions!.resolveMcpServerDefinition(definition);
    const agentsToken = fs.readFileSync(path.join(baton.storageDir, 'mcp-token'), 'utf8').trim();
    const operatorToken = fs.readFileSync(path.join(baton.storageDir, 'mcp-operator-token'), 'utf8').trim();
    assert.equal(resolved.headers.Authorization, `Bearer ${agentsToken}`);
    assert.ok(!JSON.stringify(resolved).includes(operatorToken), 'VS Code is an agent: never the operator token');
  });

  test('Copy MCP Server Configuration copies the agents\' token, never the operator token', async () => {
    await vscode.env.clipboard.writeText('');
    assert.equal(await vscode.commands.executeCommand('baton.copyMcpConfig'), baton.mcpUrl);
    const copied = await vscode.env.clipboard.readText();
    const agentsToken = fs.readFileSync(path.join(baton.storageDir, 'mcp-token'), 'utf8').trim();
    const operatorToken = fs.readFileSync(path.join(baton.storageDir, 'mcp-operator-token'), 'utf8').trim();
    assert.equal(JSON.parse(copied).mcpServers.baton.headers.Authorization, `Bearer ${agentsToken}`);
    assert.ok(!copied.includes(operatorToken));
  });

  test('VS Code starts Baton\'s server and lists its core tools as mcp_baton_*', async () => {
    const sessionsBefore = baton.services.sessions.list({ limit: 200 }).length;
    await vscode.commands.executeCommand('workbench.mcp.startServer', SERVER_ID, { waitForLiveTools: true });
    const tools = await until(() => batonToolsInVsCode().length >= CORE_TOOLS.length && batonToolsInVsCode(), `Baton's tools in vscode.lm.tools (${vscode.lm.tools.map(t => t.name).join(', ')})`);
    assert.deepEqual(tools, [...CORE_TOOLS].sort());
    const sessions = await until(() => baton.services.sessions.list({ limit: 200 }).length > sessionsBefore && baton.services.sessions.list({ limit: 200 }), 'VS Code\'s agent session in Baton');
    assert.ok(sessions.length > sessionsBefore, 'VS Code connected to Baton as an agent (with the token from resolveMcpServerDefinition)');
  });

  test('baton.mcp.toolTier full: a new definition version, and VS Code lists the full tier', async () => {
    const before = baton.mcpDefinitions!.provideMcpServerDefinitions()[0].version;
    const changed = new Promise<void>(resolve => {
      const sub = baton.mcpDefinitions!.onDidChangeMcpServerDefinitions(() => { sub.dispose(); resolve(); });
    });
    await vscode.workspace.getConfiguration().update('baton.mcp.toolTier', 'full', vscode.ConfigurationTarget.Workspace);
    await changed;
    const after = baton.mcpDefinitions!.provideMcpServerDefinitions()[0].version;
    assert.ok(before && after && before !== after, `the version follows the tool set: ${before} → ${after}`);
    await vscode.commands.executeCommand('workbench.mcp.stopServer', SERVER_ID);
    await vscode.commands.executeCommand('workbench.mcp.startServer', SERVER_ID, { waitForLiveTools: true });
    const tools = await until(() => batonToolsInVsCode().includes('add_note') && batonToolsInVsCode(), 'the full tier in vscode.lm.tools');
    assert.ok(tools.length > CORE_TOOLS.length, tools.join(', '));
    for (const operatorTool of ['approve', 'answer_request', 'hand_over']) assert.ok(!tools.includes(operatorTool), `${operatorTool} is the person's`);
  });
});
