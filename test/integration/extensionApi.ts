import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { BatonApi } from '../../src/extension';

export const EXTENSION_ID = 'baton-dev.baton';

/** Activates Baton in the extension host and returns its API (fails the test when Baton could not open its state). */
export async function batonApi(): Promise<BatonApi> {
  const ext = vscode.extensions.getExtension<BatonApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not installed`);
  const result = await ext.activate();
  assert.ok(result, 'Baton did not open its state (see the Baton log)');
  return result;
}
