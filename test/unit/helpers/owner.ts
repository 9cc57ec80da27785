import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WorkspaceOwner } from '../../../src/host/workspaceOwner';

/** Opens a real owner (durable sql.js store, lock, services, optional MCP HTTP server) in a fresh temp folder. */
export async function openTestOwner(options: {
  mcp?: boolean; maxBodyBytes?: number; tier?: 'core' | 'full'; dir?: string;
  /** MCP session idle timeout and claim lease, in seconds (fractions allowed in tests). */
  sessionIdleSeconds?: number; claimLeaseSeconds?: number;
  /**
   * Reuse the port recorded by the previous owner of `dir` (what users get). Off by default here: a test
   * that reopens an owner in the same process would otherwise meet its own client's keep-alive socket to
   * the closed owner in fetch's pool (a separate agent process, as in real use, has none).
   */
  reusePort?: boolean;
} = {}): Promise<WorkspaceOwner & { cleanup(): Promise<void> }> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'baton-test-'));
  const owner = await WorkspaceOwner.open({
    storageDir: dir, kind: 'cli', version: 'test', log: () => undefined,
    mcp: options.mcp ? { port: 0, maxBodyBytes: options.maxBodyBytes ?? 64 * 1024, tier: options.tier ?? 'full', sessionIdleSeconds: options.sessionIdleSeconds, reuseRecordedPort: options.reusePort ?? false } : null,
    claimLeaseSeconds: options.claimLeaseSeconds,
  });
  return Object.assign(owner, {
    async cleanup() {
      await owner.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
}

export const fixturesDir = path.resolve(__dirname, '../../../../shared/fixtures');
export const samplePlansDir = path.resolve(__dirname, '../../../resources/sample-plans');
