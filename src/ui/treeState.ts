import * as vscode from 'vscode';
import { ExpansionMemory, volatileStore, type StateStore } from './expansionMemory';

/**
 * Expansion memory for one tree view: records the person's expand/collapse of items (through the
 * view's events, which carry the provider's nodes; `idOf` gives the node's stable `TreeItem.id`) and
 * answers the `collapsibleState` a collapsible item should have. Without a store it remembers only
 * for the life of the window.
 */
export class TreeExpansion<T> {
  readonly memory: ExpansionMemory;

  constructor(viewId: string, store: StateStore | undefined, private readonly idOf: (node: T) => string | undefined) {
    this.memory = new ExpansionMemory(store ?? volatileStore(), `baton.treeExpansion.${viewId}`);
  }

  /** Starts recording the view's expand/collapse events; dispose the result to stop. */
  track(view: vscode.TreeView<T>): vscode.Disposable {
    const record = (node: T, state: 'expanded' | 'collapsed') => {
      const id = this.idOf(node);
      if (id) this.memory.set(id, state);
    };
    return vscode.Disposable.from(
      view.onDidExpandElement(e => record(e.element, 'expanded')),
      view.onDidCollapseElement(e => record(e.element, 'collapsed')),
    );
  }

  /** The state for a collapsible item with this id: what the person last chose, else `fallback`. */
  state(id: string, fallback: vscode.TreeItemCollapsibleState.Collapsed | vscode.TreeItemCollapsibleState.Expanded): vscode.TreeItemCollapsibleState {
    const remembered = this.memory.get(id);
    if (remembered === 'expanded') return vscode.TreeItemCollapsibleState.Expanded;
    if (remembered === 'collapsed') return vscode.TreeItemCollapsibleState.Collapsed;
    return fallback;
  }
}
