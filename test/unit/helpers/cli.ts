import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Node arguments that run the `baton` CLI from source: `spawn(process.execPath, [...CLI_ARGS, 'tasks'])`.
 * tsx is given by its file URL, so the CLI runs from any working directory (as agent CLIs start MCP servers).
 */
export const CLI_ARGS = ['--import', pathToFileURL(require.resolve('tsx')).href, path.resolve(__dirname, '../../../src/cli/main.ts')];

/** A temporary BATON_HOME and workspace folder for CLI tests, with the environment that points at them. */
export function makeCliSandbox(): { home: string; workspace: string; env: NodeJS.ProcessEnv; remove(): void } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-home-'));
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-ws-'));
  return {
    home, workspace, env: { ...process.env, BATON_HOME: home },
    remove() {
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(workspace, { recursive: true, force: true });
    },
  };
}
