import * as os from 'node:os';
import * as path from 'node:path';
import type { TerminalSessionSpec } from '../../../src/sessions/terminalSession';

/** The scripted agent: works, asks 'Which database should I use? ', waits for a line, exits with code 3. */
export const scriptedAgent = path.resolve(__dirname, '../fixtures/scripted-agent.js');

/** A session spec running the scripted agent with the tests' defaults; `over` changes any field. */
export function scriptedSessionSpec(pty: typeof import('node-pty'), over: Partial<TerminalSessionSpec> = {}): TerminalSessionSpec {
  return {
    id: `pty-${process.pid}`,
    command: process.execPath,
    args: [scriptedAgent],
    cwd: os.tmpdir(),
    env: { ...(process.env as Record<string, string>) },
    cols: 100,
    rows: 30,
    useTmux: false,
    bufferBytes: 1024 * 1024,
    detector: { quietMs: 300 },
    pty,
    ...over,
  };
}
