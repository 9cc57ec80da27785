import type { Sprint } from './model';

/** An imported document as the `imports` table records it. */
export interface ImportedSource {
  /** What the document was imported as (a workspace-relative path, usually). */
  source: string;
  /** `markdown` or `taskmaster`. */
  format: string;
  /** ISO time of the latest import of this source. */
  importedAt: string;
}

/** The sprints that came from one imported document, in plan order. */
export interface PlanGroup {
  source: string;
  /** Null when the sprints name a source the `imports` table does not list (kept, never hidden). */
  format: string | null;
  importedAt: string | null;
  sprints: Sprint[];
}

/** The top level of the Sprints & Tasks tree: one entry per plan, or a sprint not from any plan. */
export type PlanLayoutEntry = { kind: 'plan'; plan: PlanGroup } | { kind: 'sprint'; sprint: Sprint };

/**
 * Groups sprints under the plan document they were imported from. A sprint's `sourceKey` is
 * `<source>#<key>` (the key may itself hold `#`), so its source is the longest imported source that
 * prefixes it followed by `#`; a key naming no listed source falls back to the text before its first
 * `#`. Sprints created in Baton (no `sourceKey`) are not grouped.
 *
 * Returns `null` when fewer than two plans own sprints: the flat layout (sprints in plan order) is
 * kept then. Otherwise the entries in plan order: each plan where its first sprint is, and ungrouped
 * sprints where they are. Sprints are expected in plan order (by `position`), as `listSprints` gives them.
 */
export function groupSprintsByPlan(sprints: readonly Sprint[], imports: readonly ImportedSource[]): PlanLayoutEntry[] | null {
  const sources = [...imports].sort((a, b) => b.source.length - a.source.length);
  const sourceOf = (key: string): ImportedSource | string => {
    const match = sources.find(i => key.startsWith(`${i.source}#`));
    if (match) return match;
    const hash = key.indexOf('#');
    return hash > 0 ? key.slice(0, hash) : key;
  };
  const groups = new Map<string, PlanGroup>();
  const entries: PlanLayoutEntry[] = [];
  for (const sprint of sprints) {
    if (!sprint.sourceKey) {
      entries.push({ kind: 'sprint', sprint });
      continue;
    }
    const found = sourceOf(sprint.sourceKey);
    const source = typeof found === 'string' ? found : found.source;
    let group = groups.get(source);
    if (!group) {
      group = {
        source, format: typeof found === 'string' ? null : found.format, importedAt: typeof found === 'string' ? null : found.importedAt, sprints: [],
      };
      groups.set(source, group);
      entries.push({ kind: 'plan', plan: group });
    }
    group.sprints.push(sprint);
  }
  return groups.size >= 2 ? entries : null;
}

/** The file name of a plan's source (`docs/PLAN.md` → `PLAN.md`), for labels. */
export function planLabel(source: string): string {
  const parts = source.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : source;
}
