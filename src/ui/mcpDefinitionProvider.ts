import * as vscode from 'vscode';
import { Disposable } from './lifecycle';

/**
 * Tells VS Code (agent mode, `contributes.mcpServerDefinitionProviders`) about Baton's MCP server:
 * a Streamable HTTP server on 127.0.0.1 with the workspace's bearer token in the headers.
 */
export class McpDefinitionProvider extends Disposable implements vscode.McpServerDefinitionProvider<vscode.McpHttpServerDefinition> {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeMcpServerDefinitions = this._onDidChange.event;

  constructor(private readonly config: () => { url: string; token: string } | null, private readonly version: string) {
    super();
  }

  provideMcpServerDefinitions(): vscode.McpHttpServerDefinition[] {
    const cfg = this.config();
    if (!cfg) return [];
    return [new vscode.McpHttpServerDefinition('Baton', vscode.Uri.parse(cfg.url), { Authorization: `Bearer ${cfg.token}` }, this.version)];
  }

  /** Call when the server's address or token changed. */
  changed(): void {
    this._onDidChange.fire();
  }
}
