/**
 * A minimal typed event, shaped like VS Code's `Event<T>` (subscribe → disposable) so services stay free
 * of `vscode` yet plug straight into `context.subscriptions` and VS Code-style wiring.
 */
export interface Disposable {
  dispose(): void;
}
export type Event<T> = (listener: (e: T) => void) => Disposable;

/** Fires events to its listeners in subscription order; a throwing listener does not stop the others. */
export class Emitter<T> implements Disposable {
  private listeners = new Set<(e: T) => void>();
  private onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.onListenerError = onListenerError;
  }

  readonly event: Event<T> = listener => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(e: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(e);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
