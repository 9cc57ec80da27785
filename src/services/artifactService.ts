import * as path from 'node:path';
import { invalid, notFound } from '../core/errors';
import { Emitter, type Event } from '../core/event';
import type { Actor, Sprint, Task } from '../core/model';
import { redactSecrets, type RedactionFinding } from '../core/redaction';
import {
  ARTIFACT_SCOPES,
  ArtifactRepository,
  type ArtifactFilter,
  type ArtifactRecord,
  type ArtifactScope,
} from '../store/artifactRepository';
import { BlobStore, normalizeSha256 } from '../store/blobStore';
import type { SqlStore } from '../store/planRepository';

export { ARTIFACT_SCOPES, type ArtifactScope } from '../store/artifactRepository';

/**
 * An artifact as services, tools and views see it: its stored record (`sha256` is of the stored bytes,
 * after redaction; a task-scoped artifact's `sprintId` is its task's sprint when it was stored) plus
 * `uri`, `baton://artifact/<sha256>`, the MCP resource that serves its bytes.
 */
export interface ArtifactInfo extends ArtifactRecord {
  uri: string;
}

/** What `store` returns: the artifact, plus what was redacted and whether the same bytes were already stored. */
export interface StoredArtifact extends ArtifactInfo {
  /** Secrets replaced by `[REDACTED:<kind>]` before storing (empty when none, or for binary content). */
  redactions: RedactionFinding[];
  /**
   * How the content was read to look for secrets: `utf-8`, `utf-16le`, `utf-16be` (with a BOM or
   * detected), `latin1` (a textual media type that is no Unicode text), or `binary`: content that
   * is no text is stored byte for byte; only secrets written in it as plain ASCII are seen (and
   * then it is refused), compressed or encoded ones (inside a PNG, a zip, …) are not.
   */
  scanned: TextEncodingName | 'binary';
  /** True when identical bytes were already stored (under any name): no new file was written. */
  contentExisted: boolean;
}

export interface NewArtifact {
  /** A file name (no folders): `report.md`, `screenshot.png`. */
  name: string;
  /** Bytes, or text (stored as UTF-8). */
  content: Uint8Array | string;
  /** Guessed from the name (then the content) when omitted. */
  mediaType?: string;
  /** Defaults to `task` when `taskId` is given, else `sprint` when `sprintId` is given, else `project`. */
  scope?: ArtifactScope;
  taskId?: string;
  sprintId?: string;
}

export interface ArtifactChange {
  kind: 'stored' | 'deleted';
  artifact: ArtifactInfo;
  actor: Actor;
}

export interface ArtifactPage {
  items: ArtifactInfo[];
  total: number;
  /** Offset of the next page, or null when this was the last. */
  nextOffset: number | null;
}

/**
 * What the service needs from the plan: lookups to validate links (throwing NOT_FOUND), and optionally
 * the activity log. `PlanService` provides all of them.
 */
export interface PlanLookups {
  getTask(id: string): Task;
  getSprint(id: string): Sprint;
  recordActivity?(actor: Actor, action: string, taskId: string | null, detail: string): void;
}

export interface ArtifactServiceOptions {
  /** Largest artifact accepted, in bytes (default 25 MiB). */
  maxBytes?: number;
}

export const DEFAULT_MAX_ARTIFACT_BYTES = 25 * 1024 * 1024;
export const ARTIFACT_URI_PREFIX = 'baton://artifact/';
const MAX_NAME = 255;
const MAX_MEDIA_TYPE = 255;
const MAX_PAGE = 500;

/**
 * Files agents and people attach to the project, a sprint or a task: reports, logs, diffs, screenshots.
 * Contents are stored once per distinct content in the {@link BlobStore} (content-addressed), metadata
 * in the `artifacts` table. Text is passed through `redactSecrets` before it is hashed and stored, so a
 * token pasted into a log never reaches the disk. Every method validates its input and throws
 * `BatonError` before changing anything; `store` and `delete` fire `onDidChangeArtifacts` after their
 * transaction commits.
 *
 * Order of writes: `store` writes the file, then the row; `delete` removes the row, then the file when no
 * row uses it any more. A crash can therefore leave an unreferenced file but never a row without its
 * file; {@link collectGarbage} removes such leftovers.
 */
export class ArtifactService {
  private readonly _onDidChangeArtifacts = new Emitter<ArtifactChange>();
  /** Fires after an artifact was stored or deleted. */
  readonly onDidChangeArtifacts: Event<ArtifactChange> = this._onDidChangeArtifacts.event;
  readonly maxBytes: number;

  constructor(
    private readonly repo: ArtifactRepository,
    private readonly blobs: BlobStore,
    private readonly plan: PlanLookups,
    private readonly now: () => Date = () => new Date(),
    options: ArtifactServiceOptions = {},
  ) {
    const max = options.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxBytes must be a positive whole number, got ${max}.`);
    this.maxBytes = max;
  }

  dispose(): void {
    this._onDidChangeArtifacts.dispose();
  }

  // ------------------------------------------------------------------ writes

  /**
   * Stores an artifact. Text content (a textual media type, or bytes that are valid UTF-8 without NUL
   * bytes) is redacted first; the hash, size and `uri` are those of the stored (redacted) bytes.
   * @throws BatonError INVALID_ARGUMENT for a bad name, media type, scope or size; NOT_FOUND for an unknown task or sprint.
   */
  store(input: NewArtifact, actor: Actor): StoredArtifact {
    const name = redactSecrets(checkName(input.name)).text;
    const link = this.checkLink(input.scope, input.taskId, input.sprintId);
    const raw = toBytes(input.content);
    this.checkSize(raw.byteLength, name);
    const mediaType = input.mediaType !== undefined ? checkMediaType(input.mediaType) : guessMediaType(name, raw);
    const { bytes, findings, scanned } = typeof input.content === 'string' ? { ...redactText(input.content, raw), scanned: 'utf-8' as const } : redactIfText(raw, mediaType);
    this.checkSize(bytes.byteLength, name);

    const { sha256, size, existed } = this.blobs.put(bytes);
    const num = this.repo.nextNumber();
    const record: ArtifactRecord = {
      id: `AR-${num}`, sha256, name, mediaType, size, scope: link.scope, sprintId: link.sprintId, taskId: link.taskId,
      createdBy: actor.name, createdAt: this.now().toISOString(),
    };
    try {
      this.repo.transaction(tx => this.repo.insert(tx, num, record));
    } catch (error) {
      if (!existed && this.repo.countReferences(sha256) === 0) this.blobs.delete(sha256);
      throw error;
    }
    const info = toInfo(record);
    const redacted = findings.length ? `, ${findings.reduce((n, f) => n + f.count, 0)} secret(s) redacted` : '';
    this.logActivity(actor, 'artifact.stored', info, `stored artifact ${info.id} "${name}" (${mediaType}, ${formatBytes(size)}${redacted})`);
    this._onDidChangeArtifacts.fire({ kind: 'stored', artifact: info, actor });
    return { ...info, redactions: findings, scanned, contentExisted: existed };
  }

  /**
   * Deletes an artifact's row, and its content when no other artifact uses the same bytes.
   * @throws BatonError NOT_FOUND / INVALID_ARGUMENT for an unknown or malformed id.
   */
  delete(id: string, actor: Actor): { artifact: ArtifactInfo; contentRemoved: boolean } {
    const record = this.repo.get(normalizeId(id));
    if (!record) throw notFound(`No artifact with id "${id}".`);
    this.repo.transaction(tx => this.repo.delete(tx, record.id));
    const contentRemoved = this.repo.countReferences(record.sha256) === 0 && this.blobs.delete(record.sha256);
    const info = toInfo(record);
    this.logActivity(actor, 'artifact.deleted', info, `deleted artifact ${info.id} "${info.name}"`);
    this._onDidChangeArtifacts.fire({ kind: 'deleted', artifact: info, actor });
    return { artifact: info, contentRemoved };
  }

  /**
   * Removes contents no artifact uses any more and temp files of interrupted writes (left by a crash
   * between writing a file and its row, or between deleting a row and its file). Safe at any time.
   */
  collectGarbage(): { removedContents: number; removedTempFiles: number } {
    const removedTempFiles = this.blobs.removeTempFiles();
    const used = this.repo.referencedShas();
    let removedContents = 0;
    for (const sha of this.blobs.list()) {
      if (!used.has(sha) && this.blobs.delete(sha)) removedContents++;
    }
    return { removedContents, removedTempFiles };
  }

  // ------------------------------------------------------------------ reads

  /**
   * Artifacts matching `filter` (all given conditions), oldest first, paginated (`limit` 1–500, default 100).
   * `sprintId` also matches task-scoped artifacts of tasks that were in that sprint. Ids of tasks or
   * sprints that no longer exist are accepted (their artifacts stay listed).
   */
  list(filter: { taskId?: string; sprintId?: string; scope?: ArtifactScope } = {}, page: { offset?: number; limit?: number } = {}): ArtifactPage {
    const offset = page.offset ?? 0;
    const limit = page.limit ?? 100;
    if (!Number.isInteger(offset) || offset < 0) throw invalid(`offset must be a whole number ≥ 0, got ${offset}.`);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid(`limit must be a whole number from 1 to ${MAX_PAGE}, got ${limit}.`);
    if (filter.scope !== undefined && !ARTIFACT_SCOPES.includes(filter.scope)) {
      throw invalid(`scope must be one of ${ARTIFACT_SCOPES.join(', ')}, got "${filter.scope}".`);
    }
    const where: ArtifactFilter = {
      taskId: filter.taskId === undefined ? undefined : normalizeRef('T', filter.taskId, 'task'),
      sprintId: filter.sprintId === undefined ? undefined : normalizeRef('S', filter.sprintId, 'sprint'),
      scope: filter.scope,
    };
    const total = this.repo.count(where);
    const items = this.repo.list(where, offset, limit).map(toInfo);
    return { items, total, nextOffset: offset + limit < total ? offset + limit : null };
  }

  /**
   * One artifact by id (`AR-3`), by content hash or by `baton://artifact/<sha256>` (for a hash, the
   * newest artifact with that content).
   */
  get(idOrSha: string): ArtifactInfo {
    return toInfo(this.find(idOrSha));
  }

  /** An artifact and its stored bytes. */
  read(idOrSha: string): { info: ArtifactInfo; bytes: Buffer } {
    const record = this.find(idOrSha);
    return { info: toInfo(record), bytes: this.blobs.get(record.sha256) };
  }

  /** For each distinct content, its newest artifact; newest first (what the MCP resource list shows). */
  listContents(limit = 1000, beforeNum?: number): ArtifactInfo[] {
    return this.repo.listLatestPerContent(limit, beforeNum).map(toInfo);
  }

  // ------------------------------------------------------------------ internals

  private find(idOrSha: string): ArtifactRecord {
    if (typeof idOrSha !== 'string' || !idOrSha.trim()) throw invalid('An artifact id or sha256 is required.');
    let ref = idOrSha.trim();
    if (ref.toLowerCase().startsWith(ARTIFACT_URI_PREFIX)) ref = ref.slice(ARTIFACT_URI_PREFIX.length);
    if (/^[0-9a-f]{64}$/i.test(ref)) {
      const sha = normalizeSha256(ref);
      const record = this.repo.findBySha(sha);
      if (!record) throw notFound(`No artifact with sha256 ${sha}.`);
      return record;
    }
    const record = this.repo.get(normalizeId(ref));
    if (!record) throw notFound(`No artifact with id "${idOrSha}".`);
    return record;
  }

  private checkLink(scope: ArtifactScope | undefined, taskRef: string | undefined, sprintRef: string | undefined) {
    if (scope !== undefined && !ARTIFACT_SCOPES.includes(scope)) {
      throw invalid(`scope must be one of ${ARTIFACT_SCOPES.join(', ')}, got "${scope}".`);
    }
    const taskGiven = taskRef !== undefined && taskRef !== null;
    const sprintGiven = sprintRef !== undefined && sprintRef !== null;
    const effective: ArtifactScope = scope ?? (taskGiven ? 'task' : sprintGiven ? 'sprint' : 'project');
    switch (effective) {
      case 'project':
        if (taskGiven || sprintGiven) throw invalid('A project-scoped artifact cannot name a task or sprint; use scope "task" or "sprint".');
        return { scope: effective, taskId: null, sprintId: null };
      case 'sprint': {
        if (taskGiven) throw invalid('A sprint-scoped artifact cannot name a task; use scope "task" (its sprint is taken from the task).');
        if (!sprintGiven) throw invalid('A sprint-scoped artifact needs a sprint id.');
        const sprint = this.plan.getSprint(normalizeRef('S', sprintRef, 'sprint'));
        return { scope: effective, taskId: null, sprintId: sprint.id };
      }
      case 'task': {
        if (!taskGiven) throw invalid('A task-scoped artifact needs a task id.');
        const task = this.plan.getTask(normalizeRef('T', taskRef, 'task'));
        if (sprintGiven) {
          const sprintId = normalizeRef('S', sprintRef, 'sprint');
          if (sprintId !== task.sprintId) {
            throw invalid(`Task ${task.id} is ${task.sprintId ? `in sprint ${task.sprintId}` : 'in the backlog'}, not in ${sprintId}; omit sprint_id for a task-scoped artifact.`);
          }
        }
        return { scope: effective, taskId: task.id, sprintId: task.sprintId };
      }
    }
  }

  /**
   * Adds an entry to the plan's activity log (linked to the artifact's task, if it still exists). It is
   * a second transaction after the artifact's own, and only a record: the artifact change has committed,
   * so a failure here is not reported as a failure of that change.
   */
  private logActivity(actor: Actor, action: string, info: ArtifactInfo, detail: string): void {
    if (!this.plan.recordActivity) return;
    let taskId = info.taskId;
    try {
      if (taskId) this.plan.getTask(taskId);
    } catch {
      taskId = null;
    }
    try {
      this.plan.recordActivity(actor, action, taskId, detail);
    } catch {
      // the artifact change is already durable; the log entry is best effort
    }
  }

  private checkSize(size: number, name: string): void {
    if (size > this.maxBytes) {
      throw invalid(`Artifact "${name}" is ${formatBytes(size)}; the limit is ${formatBytes(this.maxBytes)}.`);
    }
  }
}

/**
 * Builds the artifact store of a workspace: contents under `<storageDir>/artifacts/`, metadata in the
 * state database `db` (the owner's `DurableDatabase`), links validated against `plan` (the owner's
 * `PlanService`).
 */
export function createArtifactService(
  db: SqlStore, storageDir: string, plan: PlanLookups,
  options: ArtifactServiceOptions & { now?: () => Date } = {},
): ArtifactService {
  return new ArtifactService(new ArtifactRepository(db), new BlobStore(storageDir), plan, options.now, options);
}

// ------------------------------------------------------------------ helpers

export function artifactUri(sha256: string): string {
  return ARTIFACT_URI_PREFIX + sha256;
}

function toInfo(r: ArtifactRecord): ArtifactInfo {
  return { ...r, uri: artifactUri(r.sha256) };
}

function normalizeId(ref: string): string {
  const m = /^ar-?(\d+)$/i.exec(typeof ref === 'string' ? ref.trim() : '');
  if (!m) throw invalid(`"${String(ref).slice(0, 80)}" is not an artifact id (like AR-3) or sha256.`);
  return `AR-${Number(m[1])}`;
}

/** `12`, `t12`, `T-12` → `T-12` (and the same for sprints with `S`); anything else is kept as given. */
function normalizeRef(prefix: 'T' | 'S', ref: unknown, what: string): string {
  if (typeof ref !== 'string' || !ref.trim()) throw invalid(`A ${what} id must be a non-empty text.`);
  const trimmed = ref.trim();
  const m = new RegExp(`^(?:${prefix}-?)?(\\d+)$`, 'i').exec(trimmed);
  return m ? `${prefix}-${Number(m[1])}` : trimmed;
}

function checkName(value: unknown): string {
  if (typeof value !== 'string' || !value.trim()) throw invalid('Artifact name must be a non-empty file name.');
  const name = value.trim();
  if (name.length > MAX_NAME) throw invalid(`Artifact name is ${name.length} characters; the limit is ${MAX_NAME}.`);
  if (/[/\\]/.test(name)) throw invalid(`Artifact name "${name}" must be a plain file name without "/" or "\\".`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid('Artifact name must not contain control characters.');
  if (name === '.' || name === '..') throw invalid(`Artifact name "${name}" is not a file name.`);
  return name;
}

function checkMediaType(value: unknown): string {
  if (typeof value !== 'string') throw invalid('Media type must be text like "text/markdown".');
  const mt = value.trim().toLowerCase();
  if (mt.length > MAX_MEDIA_TYPE || !/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(\s*;\s*[a-z0-9_.-]+=("[^"]*"|[^;"\s]+))*$/.test(mt)) {
    throw invalid(`"${String(value).slice(0, 80)}" is not a media type like "text/markdown" or "image/png".`);
  }
  return mt;
}

function toBytes(content: unknown): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof Uint8Array) return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  throw invalid('Artifact content must be text or bytes.');
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const human = n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${n} bytes (${human})`;
}

// ------------------------------------------------------------------ media types and text

const MEDIA_TYPES: Record<string, string> = {
  md: 'text/markdown', markdown: 'text/markdown', txt: 'text/plain', text: 'text/plain', log: 'text/plain',
  json: 'application/json', jsonl: 'application/x-ndjson', ndjson: 'application/x-ndjson',
  yaml: 'application/yaml', yml: 'application/yaml', toml: 'application/toml', xml: 'application/xml',
  csv: 'text/csv', tsv: 'text/tab-separated-values', html: 'text/html', htm: 'text/html', css: 'text/css',
  diff: 'text/x-diff', patch: 'text/x-diff',
  ts: 'text/typescript', tsx: 'text/typescript', mts: 'text/typescript', cts: 'text/typescript',
  js: 'text/javascript', jsx: 'text/javascript', mjs: 'text/javascript', cjs: 'text/javascript',
  py: 'text/x-python', rb: 'text/x-ruby', go: 'text/x-go', rs: 'text/x-rust', java: 'text/x-java', kt: 'text/x-kotlin',
  c: 'text/x-c', h: 'text/x-c', cc: 'text/x-c++', cpp: 'text/x-c++', hpp: 'text/x-c++', cs: 'text/x-csharp',
  swift: 'text/x-swift', php: 'text/x-php', sh: 'text/x-shellscript', bash: 'text/x-shellscript', zsh: 'text/x-shellscript',
  ps1: 'text/plain', sql: 'application/sql', graphql: 'application/graphql', ini: 'text/plain', cfg: 'text/plain',
  env: 'text/plain', svg: 'image/svg+xml',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp',
  ico: 'image/vnd.microsoft.icon', pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip',
  tgz: 'application/gzip', tar: 'application/x-tar', wasm: 'application/wasm', mp4: 'video/mp4', webm: 'video/webm',
  mp3: 'audio/mpeg', wav: 'audio/wav',
};

/**
 * The media type for a file name, from its extension; for an unknown extension, `text/plain` when the
 * content is text (valid UTF-8 without NUL bytes), else `application/octet-stream`.
 */
export function guessMediaType(name: string, content?: Uint8Array): string {
  const ext = path.extname(name).slice(1).toLowerCase() || (name.startsWith('.') ? name.slice(1).toLowerCase() : '');
  const known = MEDIA_TYPES[ext];
  if (known) return known;
  return content && decodeUtf8Text(content) !== null ? 'text/plain' : 'application/octet-stream';
}

/** Whether a media type is text (served as `text`, redacted before storing). */
export function isTextMediaType(mediaType: string): boolean {
  const mt = mediaType.split(';')[0].trim().toLowerCase();
  if (mt.startsWith('text/')) return true;
  if (mt.endsWith('+json') || mt.endsWith('+xml') || mt.endsWith('+yaml')) return true;
  return [
    'application/json', 'application/x-ndjson', 'application/yaml', 'application/x-yaml', 'application/toml',
    'application/xml', 'application/javascript', 'application/x-javascript', 'application/typescript',
    'application/sql', 'application/graphql', 'application/x-sh', 'application/x-httpd-php', 'application/x-diff',
    'application/x-patch', 'application/ecmascript',
  ].includes(mt);
}

/** `bytes` as a string when they are valid UTF-8 without NUL bytes (a BOM is kept), else null. */
export function decodeUtf8Text(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Redacts secrets from text content. Text is what has a textual media type or decodes as UTF-8 without
 * NUL bytes; text of a textual type that is not UTF-8 (Latin-1, say) is handled byte for byte, which
 * keeps every other byte as it was (secret patterns are ASCII). Bytes are unchanged when nothing is found.
 */
/** Redacts content given as a string (text by definition, whatever its media type). */
function redactText(text: string, bytes: Buffer): { bytes: Buffer; findings: RedactionFinding[] } {
  const result = redactSecrets(text);
  if (result.text === text) return { bytes, findings: [] };
  return { bytes: Buffer.from(result.text, 'utf8'), findings: result.findings.filter(f => f.count > 0) };
}

/** Encodings in which artifact content is scanned for secrets. */
export type TextEncodingName = 'utf-8' | 'utf-16le' | 'utf-16be' | 'latin1';

/**
 * Decodes bytes as UTF-16 when they are: a BOM (`FF FE` little-endian, `FE FF` big-endian), or
 * without one, an even length of which at least 90 % of the high bytes are zero (ASCII-range text,
 * where secret patterns live) and which decodes without error.
 */
function decodeUtf16Text(bytes: Buffer): { text: string; encoding: 'utf-16le' | 'utf-16be'; bom: boolean } | null {
  if (bytes.length < 2 || bytes.length % 2 !== 0) return null;
  let encoding: 'utf-16le' | 'utf-16be' | null = null;
  let bom = false;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) { encoding = 'utf-16le'; bom = true; }
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) { encoding = 'utf-16be'; bom = true; }
  else {
    let evenZero = 0;
    let oddZero = 0;
    for (let i = 0; i < bytes.length; i += 2) {
      if (bytes[i] === 0) evenZero++;
      if (bytes[i + 1] === 0) oddZero++;
    }
    const units = bytes.length / 2;
    if (oddZero >= units * 0.9 && evenZero === 0) encoding = 'utf-16le';
    else if (evenZero >= units * 0.9 && oddZero === 0) encoding = 'utf-16be';
  }
  if (!encoding) return null;
  try {
    const text = new TextDecoder(encoding, { fatal: true, ignoreBOM: false }).decode(bytes);
    return { text, encoding, bom };
  } catch {
    return null;
  }
}

function encodeUtf16(text: string, encoding: 'utf-16le' | 'utf-16be', bom: boolean): Buffer {
  const le = Buffer.from((bom ? '\ufeff' : '') + text, 'utf16le');
  return encoding === 'utf-16le' ? le : le.swap16();
}

/**
 * Redacts secrets from content given as bytes: what decodes as UTF-8 (without NUL bytes) or as
 * UTF-16 (see {@link decodeUtf16Text}) is scanned as text and stored re-encoded the same way
 * (BOM kept); other bytes of a textual media type are scanned as Latin-1, which keeps every other
 * byte as it was; anything else is binary: stored unchanged (`scanned: 'binary'`), or refused with
 * BatonError INVALID_ARGUMENT when its bytes hold a plain-ASCII secret.
 * Bytes are unchanged when nothing is found.
 */
function redactIfText(bytes: Buffer, mediaType: string): { bytes: Buffer; findings: RedactionFinding[]; scanned: TextEncodingName | 'binary' } {
  const utf8 = decodeUtf8Text(bytes);
  let encode: (text: string) => Buffer;
  let text: string;
  let scanned: TextEncodingName;
  const utf16 = utf8 === null ? decodeUtf16Text(bytes) : null;
  if (utf8 !== null) {
    scanned = 'utf-8';
    text = utf8;
    encode = t => Buffer.from(t, 'utf8');
  } else if (utf16) {
    scanned = utf16.encoding;
    text = utf16.text;
    encode = t => encodeUtf16(t, utf16.encoding, utf16.bom);
  } else if (isTextMediaType(mediaType)) {
    scanned = 'latin1';
    text = bytes.toString('latin1');
    encode = t => Buffer.from(t, 'latin1');
  } else {
    // binary: not changed (that would corrupt it) but refused when it holds a plain-text secret
    const found = redactSecrets(bytes.toString('latin1')).findings;
    if (found.length) {
      throw invalid(`Binary content holds what looks like a secret (${found.map(f => f.kind).join(', ')}); Baton cannot redact binary files, so it was not stored. Remove the secret, or store it as text to have it redacted.`);
    }
    return { bytes, findings: [], scanned: 'binary' };
  }
  const result = redactSecrets(text);
  const findings = result.findings.filter(f => f.count > 0);
  if (result.text === text) return { bytes, findings: [], scanned };
  return { bytes: encode(result.text), findings, scanned };
}
