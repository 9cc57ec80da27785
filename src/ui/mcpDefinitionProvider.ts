import * as vscode from 'vscode';
import { toolSetVersion } from '../mcp/batonMcpServer';
import { Disposable } from './lifecycle';

/** What VS Code needs to reach Baton's MCP server as an agent: the URL, the agents' token and the tools served. */
export interface McpServerSource {
  url: string;
  /** The agents' bearer token (never the operator token). */
  token: string;
  /** Names of the tools the agents' tier lists (see `toolNamesOfTier`). */
  toolNames: readonly string[];
}

/** The label VS Code shows; it also makes the server's id (`<extension id>/Baton`) and tool prefix (`mcp_baton_`). */
export const MCP_SERVER_LABEL = 'Baton';

/**
 * Tells VS Code (agent mode, `contributes.mcpServerDefinitionProviders`) about Baton's MCP server: a
 * Streamable HTTP server on 127.0.0.1. Registered on every activation, so VS Code never keeps a stale
 * "Baton" server: it provides no server while Baton serves none (MCP off, the workspace owned by another
 * process, a store error, no folder).
 *
 * - The definition's `version` is `toolSetVersion(extension version, tool names)`: VS Code keys its tool
 *   cache by it, so changing `baton.mcp.toolTier` refreshes the tools VS Code shows.
 * - The provided definition carries no `Authorization` header: VS Code saves provided definitions in
 *   workspace storage (`mcp.extCachedServers`, plain text). The token is added in
 *   `resolveMcpServerDefinition`, which VS Code calls each time it starts the server and whose result it
 *   only uses for that connection.
 */
export class McpDefinitionProvider extends Disposable implements vscode.McpServerDefinitionProvider<vscode.McpHttpServerDefinition> {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeMcpServerDefinitions = this._onDidChange.event;

  constructor(private readonly source: () => McpServerSource | null, private readonly extensionVersion: string) {
    super();
  }

  /** Baton's server without credentials, or none when Baton serves none. */
  provideMcpServerDefinitions(): vscode.McpHttpServerDefinition[] {
    const cfg = this.source();
    if (!cfg) return [];
    return [new vscode.McpHttpServerDefinition(MCP_SERVER_LABEL, vscode.Uri.parse(cfg.url), {}, toolSetVersion(this.extensionVersion, cfg.toolNames))];
  }

  /**
   * The definition VS Code starts: the current address with the agents' token in `Authorization`.
   * @throws Error when Baton serves no MCP server in this window any more (VS Code shows it).
   */
  resolveMcpServerDefinition(server: vscode.McpHttpServerDefinition): vscode.McpHttpServerDefinition {
    const cfg = this.source();
    if (!cfg) throw new Error(vscode.l10n.t("Baton serves no MCP server in this window (it is turned off, or another process owns this workspace's plan)."));
    return new vscode.McpHttpServerDefinition(server.label, vscode.Uri.parse(cfg.url), { ...server.headers, Authorization: `Bearer ${cfg.token}` }, server.version);
  }

  /** Call when the server appeared or went away, or its address, token or tool set changed. */
  changed(): void {
    this._onDidChange.fire();
  }
}
