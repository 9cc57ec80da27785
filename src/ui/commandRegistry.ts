import * as vscode from 'vscode';
import { BatonError } from '../core/errors';
import { InvalidTransitionError } from '../core/statusRules';
import { DependencyCycleError } from '../core/taskGraph';

export type Register = (id: string, handler: (...args: any[]) => unknown) => void;

/**
 * Returns the one way Baton registers commands: every handler is wrapped the same way. Domain errors
 * (bad input, refused status moves, dependency cycles) become a short message; anything unexpected is
 * logged with its stack to the Baton log and shown with a "Show Log" action. No handler rejects
 * unhandled, and handlers return their result so tests and other extensions can call them with arguments.
 */
export function commandRegistrar(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Register {
  return (id, handler) => {
    context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (error) {
        if (error instanceof BatonError || error instanceof InvalidTransitionError || error instanceof DependencyCycleError) {
          log.warn(`[Commands] ${id}: ${error.message}`);
          void vscode.window.showErrorMessage(error.message);
        } else {
          log.error(`[Commands] ${id} failed: ${error instanceof Error ? error.stack : String(error)}`);
          void vscode.window.showErrorMessage(
            vscode.l10n.t('Baton: {0}', error instanceof Error ? error.message : String(error)), vscode.l10n.t('Show Log'))
            .then(action => action && log.show());
        }
        return undefined;
      }
    }));
  };
}

/** The person using VS Code, as an actor in Baton's activity log. */
export function currentUser(settingKey: string): { kind: 'user'; name: string } {
  const configured = vscode.workspace.getConfiguration().get<string>(settingKey)?.trim();
  if (configured) return { kind: 'user', name: configured };
  try {
    return { kind: 'user', name: require('node:os').userInfo().username || 'me' };
  } catch {
    return { kind: 'user', name: 'me' };
  }
}
