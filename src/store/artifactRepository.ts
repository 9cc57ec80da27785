import type { SqlStore, SqlValue, SqlWriter } from './planRepository';

export const ARTIFACT_SCOPES = ['project', 'sprint', 'task'] as const;
export type ArtifactScope = (typeof ARTIFACT_SCOPES)[number];

/** One row of the `artifacts` table. */
export interface ArtifactRecord {
  /** `AR-<n>`. */
  id: string;
  sha256: string;
  name: string;
  mediaType: string;
  size: number;
  scope: ArtifactScope;
  sprintId: string | null;
  taskId: string | null;
  createdBy: string;
  createdAt: string;
}

export interface ArtifactFilter {
  taskId?: string;
  sprintId?: string;
  scope?: ArtifactScope;
}

interface ArtifactRow {
  id: string; num: number; sha256: string; name: string; media_type: string; size: number; scope: string;
  sprint_id: string | null; task_id: string | null; created_by: string; created_at: string;
}

const toRecord = (r: ArtifactRow): ArtifactRecord => ({
  id: r.id, sha256: r.sha256, name: r.name, mediaType: r.media_type, size: r.size, scope: r.scope as ArtifactScope,
  sprintId: r.sprint_id, taskId: r.task_id, createdBy: r.created_by, createdAt: r.created_at,
});

function where(filter: ArtifactFilter): { sql: string; params: SqlValue[] } {
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  if (filter.taskId !== undefined) { clauses.push('task_id = ?'); params.push(filter.taskId); }
  if (filter.sprintId !== undefined) { clauses.push('sprint_id = ?'); params.push(filter.sprintId); }
  if (filter.scope !== undefined) { clauses.push('scope = ?'); params.push(filter.scope); }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/**
 * SQL for the `artifacts` table (schema migration 2): the metadata of stored files; their contents live
 * in the `BlobStore`, addressed by `sha256`. Several rows may share one content. The only module that
 * knows this table's columns; writes take the transaction's writer.
 */
export class ArtifactRepository {
  constructor(private readonly db: SqlStore) {}

  transaction<T>(fn: (tx: SqlWriter) => T): T {
    return this.db.transaction(fn);
  }

  nextNumber(): number {
    return (this.db.get<{ n: number | null }>('SELECT MAX(num) AS n FROM artifacts')?.n ?? 0) + 1;
  }

  insert(tx: SqlWriter, num: number, a: ArtifactRecord): void {
    tx.run(
      `INSERT INTO artifacts (id, num, sha256, name, media_type, size, scope, sprint_id, task_id, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [a.id, num, a.sha256, a.name, a.mediaType, a.size, a.scope, a.sprintId, a.taskId, a.createdBy, a.createdAt],
    );
  }

  get(id: string): ArtifactRecord | undefined {
    const row = this.db.get<ArtifactRow>('SELECT * FROM artifacts WHERE id = ?', [id]);
    return row && toRecord(row);
  }

  /** The newest row whose content is `sha256`. */
  findBySha(sha256: string): ArtifactRecord | undefined {
    const row = this.db.get<ArtifactRow>('SELECT * FROM artifacts WHERE sha256 = ? ORDER BY num DESC LIMIT 1', [sha256]);
    return row && toRecord(row);
  }

  /** Rows matching `filter` in the order they were stored (oldest first, so offsets stay stable while rows are added). */
  list(filter: ArtifactFilter, offset: number, limit: number): ArtifactRecord[] {
    const w = where(filter);
    return this.db
      .all<ArtifactRow>(`SELECT * FROM artifacts ${w.sql} ORDER BY num LIMIT ? OFFSET ?`, [...w.params, limit, offset])
      .map(toRecord);
  }

  count(filter: ArtifactFilter): number {
    const w = where(filter);
    return this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM artifacts ${w.sql}`, w.params)?.n ?? 0;
  }

  /** For each distinct content, its newest row; newest first, at most `limit`, numbered below `beforeNum` if given. */
  listLatestPerContent(limit: number, beforeNum?: number): ArtifactRecord[] {
    return this.db
      .all<ArtifactRow>(
        `SELECT a.* FROM artifacts a
         JOIN (SELECT MAX(num) AS num FROM artifacts GROUP BY sha256) latest ON latest.num = a.num
         ${beforeNum !== undefined ? 'WHERE a.num < ?' : ''}
         ORDER BY a.num DESC LIMIT ?`,
        beforeNum !== undefined ? [beforeNum, limit] : [limit],
      )
      .map(toRecord);
  }

  /** How many rows use the content `sha256`. */
  countReferences(sha256: string): number {
    return this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM artifacts WHERE sha256 = ?', [sha256])?.n ?? 0;
  }

  /** Every content hash some row uses. */
  referencedShas(): Set<string> {
    return new Set(this.db.all<{ sha256: string }>('SELECT DISTINCT sha256 FROM artifacts').map(r => r.sha256));
  }

  delete(tx: SqlWriter, id: string): number {
    return tx.run('DELETE FROM artifacts WHERE id = ?', [id]).changes;
  }
}
