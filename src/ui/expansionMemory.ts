/** The part of `vscode.Memento` (e.g. `context.workspaceState`) the memory needs. */
export interface StateStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void> | Promise<void>;
}

export type Expansion = 'expanded' | 'collapsed';

/**
 * Remembers which tree items (by their stable `TreeItem.id`) the person expanded or collapsed, in a
 * workspace-scoped store, so a tree shows the same way after a window reload. VS Code keeps expansion
 * across refreshes within a window but not across reloads for extension trees (its custom tree view
 * stores no view state; verified in VS Code 1.139's workbench), so providers ask this memory for the
 * `collapsibleState` of their collapsible items and fall back to their own default for unknown ids.
 *
 * Stored as `[id, 'e' | 'c'][]` under `key`, most recently changed last; at most `limit` ids are kept
 * (the oldest are dropped first). A stored value of another shape is ignored (treated as empty).
 */
export class ExpansionMemory {
  private readonly states = new Map<string, Expansion>();

  constructor(private readonly store: StateStore, private readonly key: string, private readonly limit = 2000) {
    const saved = store.get<unknown>(key);
    if (Array.isArray(saved)) {
      for (const entry of saved) {
        if (Array.isArray(entry) && typeof entry[0] === 'string' && (entry[1] === 'e' || entry[1] === 'c')) {
          this.states.set(entry[0], entry[1] === 'e' ? 'expanded' : 'collapsed');
        }
      }
    }
  }

  /** What the person last did with the item, or undefined when they never expanded nor collapsed it. */
  get(id: string): Expansion | undefined {
    return this.states.get(id);
  }

  /** Records that the item was expanded or collapsed, and saves the memory (not awaited: the store batches writes). */
  set(id: string, state: Expansion): void {
    if (this.states.get(id) === state) return;
    this.states.delete(id);
    this.states.set(id, state);
    while (this.states.size > this.limit) this.states.delete(this.states.keys().next().value as string);
    void Promise.resolve(this.store.update(this.key, [...this.states].map(([k, v]) => [k, v === 'expanded' ? 'e' : 'c']))).catch(() => undefined);
  }
}

/** A store that keeps nothing across windows (for providers built without a workspace store, e.g. in tests). */
export function volatileStore(): StateStore {
  const values = new Map<string, unknown>();
  return {
    get: <T>(key: string) => values.get(key) as T | undefined,
    update: (key: string, value: unknown) => { values.set(key, value); return Promise.resolve(); },
  };
}
