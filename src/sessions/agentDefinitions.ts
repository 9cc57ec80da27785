import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

/**
 * An agent definition (a "role") from `<workspace>/.claude/agents/<file>.md`, the format Claude Code uses
 * for subagents: YAML front matter with `name`, `description` and optionally `model` and `tools`, then a
 * markdown body with the instructions.
 */
export interface AgentDefinition {
  name: string;
  description: string;
  model?: string;
  /** `tools: Read, Grep` or a YAML list; absent when the front matter names none. */
  tools?: string[];
  /** The markdown body after the front matter, trimmed. */
  instructions: string;
  /** Absolute path of the definition file. */
  file: string;
}

/** Largest definition file read, in bytes. */
export const MAX_DEFINITION_BYTES = 256 * 1024;

/**
 * The agent definitions in `<workspaceDir>/.claude/agents/*.md`, sorted by file name, and one error per
 * file that could not be used (no or malformed front matter, missing `name`/`description`, a name
 * already taken by an earlier file, unreadable or too large). A missing folder is no error.
 */
export function listAgentDefinitions(workspaceDir: string): { definitions: AgentDefinition[]; errors: { file: string; message: string }[] } {
  const dir = path.join(path.resolve(workspaceDir), '.claude', 'agents');
  const definitions: AgentDefinition[] = [];
  const errors: { file: string; message: string }[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter(n => n.toLowerCase().endsWith('.md')).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') errors.push({ file: dir, message: `cannot read the folder: ${(error as Error).message}` });
    return { definitions, errors };
  }
  const byName = new Map<string, string>();
  for (const n of names) {
    const file = path.join(dir, n);
    try {
      const stat = fs.statSync(file);
      if (!stat.isFile()) continue;
      if (stat.size > MAX_DEFINITION_BYTES) throw new Error(`the file is ${stat.size} bytes; the limit is ${MAX_DEFINITION_BYTES}`);
      const def = parseAgentDefinition(fs.readFileSync(file, 'utf8'), file);
      const taken = byName.get(def.name);
      if (taken) throw new Error(`name "${def.name}" is already used by ${path.basename(taken)}`);
      byName.set(def.name, file);
      definitions.push(def);
    } catch (error) {
      errors.push({ file, message: (error as Error).message });
    }
  }
  return { definitions, errors };
}

/**
 * Parses one agent definition file's text (front matter read by {@link splitFrontMatter}). Throws an
 * Error saying what is wrong, with the file's line number for front-matter problems
 * (`front matter line 3: "name" appears twice`).
 */
export function parseAgentDefinition(text: string, file: string): AgentDefinition {
  const { data, body } = splitFrontMatter(text);
  const str = (key: string, required: boolean): string | undefined => {
    const v = data[key];
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
      if (required) throw new Error(`front matter has no "${key}"`);
      return undefined;
    }
    if (typeof v !== 'string') throw new Error(`front matter "${key}" must be text, not a list`);
    return v.trim();
  };
  const name = str('name', true)!;
  const description = str('description', true)!;
  const model = str('model', false);
  let tools: string[] | undefined;
  const t = data.tools;
  if (Array.isArray(t)) tools = t.map(x => x.trim()).filter(Boolean);
  else if (typeof t === 'string' && t.trim() !== '') tools = t.split(',').map(x => x.trim()).filter(Boolean);
  return { name, description, ...(model ? { model } : {}), ...(tools ? { tools } : {}), instructions: body.trim(), file: path.resolve(file) };
}

type Value = string | string[] | null;

/** The front-matter keys Baton reads; others (`color`, `hooks`, `mcpServers`, …) may hold any YAML. */
const USED = new Set(['name', 'description', 'model', 'tools']);

/**
 * Splits `---` front matter from the body and reads the front matter as YAML 1.2 with the `yaml`
 * package (https://eemeli.org/yaml/): quoted strings, flow and block lists, block scalars (`|`, `>`),
 * folded plain lines, comments, anchors and aliases all work as in any YAML reader. One leniency, as in
 * the files Claude Code's `/agents` writes: a top-level plain value that strict YAML rejects (it has
 * `: ` in it, as long descriptions with examples do, starts with `@`, `` ` `` or `%`, or continues on
 * tab-indented lines) is read as the text of the rest of the line and its indented continuation lines (folded), each minus a ` # comment`.
 * This is tried only when the front matter is not valid YAML as written. Returns Baton's keys (text, a
 * list of text, or null) and the body. @throws Error naming the file's line (`front matter line 3: …`).
 */
export function splitFrontMatter(text: string): { data: Record<string, Value>; body: string } {
  const { frontMatter: source, body, problem } = frontMatterLines(text);
  if (!source) throw new Error(problem);
  let parsed = parseYaml(source.join('\n'));
  if (parsed.error) {
    const lenient = quotePlainValues(source);
    // When that is not enough, the retry's error is the one left to fix (line numbers are the same).
    if (lenient) parsed = parseYaml(lenient.join('\n'));
  }
  if (parsed.error) throw new Error(parsed.error);
  return { data: readUsedKeys(parsed.doc!, parsed.lines!), body };
}

/**
 * The lines between a file's opening `---` line and the next `---` (or `...`) line, and the text
 * after it; without such lines, `frontMatter` is null, `body` is the whole text and `problem` says
 * what is missing. A byte-order mark is ignored; `\r\n` line ends become `\n` in `body` when there is front matter.
 */
export function frontMatterLines(text: string): { frontMatter: string[]; body: string; problem?: undefined } | { frontMatter: null; body: string; problem: string } {
  const clean = text.replace(/^\uFEFF/, '');
  const lines = clean.split(/\r?\n/);
  if (lines[0]?.trim() !== '---') return { frontMatter: null, body: clean, problem: 'no front matter: the file must start with a "---" line' };
  const end = lines.findIndex((l, i) => i > 0 && /^(---|\.\.\.)\s*$/.test(l));
  if (end < 0) return { frontMatter: null, body: clean, problem: 'front matter is not closed: no "---" line after the opening one' };
  return { frontMatter: lines.slice(1, end), body: lines.slice(end + 1).join('\n') };
}

/** Front-matter line (1-based, counting the opening `---` as line 1) of a YAML offset. */
type LineOf = (offset: number) => number;

function parseYaml(yaml: string): { doc?: Document; lines?: LineOf; error?: string } {
  const counter = new LineCounter();
  // Duplicate keys are reported below, naming the key.
  const doc = parseDocument(yaml, { lineCounter: counter, uniqueKeys: false, prettyErrors: false });
  const lines: LineOf = offset => counter.linePos(offset).line + 1;
  const first = doc.errors[0];
  if (first) return { error: `front matter line ${lines(first.pos[0])}: ${first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` };
  return { doc, lines };
}

/**
 * The front matter's lines with each top-level plain value that strict YAML rejects turned into a
 * double-quoted string (continuation lines folded into it and left blank, so line numbers stay), or
 * null when no line needed it.
 */
function quotePlainValues(source: string[]): string[] | null {
  const out = [...source];
  let changed = false;
  for (let i = 0; i < out.length; i++) {
    const m = /^([A-Za-z_][\w-]*)(\s*:\s+)(.+)$/.exec(out[i].trimEnd());
    if (!m) continue;
    const rest = m[3].trim();
    if (/^["'[{|>&*!#-]/.test(rest) && !/^-\S/.test(rest)) continue; // quoted, flow, block, anchor, tag, comment, list: real YAML
    const tabbed = /^\t/.test(out[i + 1] ?? ''); // continuation lines indented with tabs, which YAML forbids
    if (!/:(\s|$)/.test(rest) && !/^[@`%]/.test(rest) && !tabbed) continue; // valid as a plain YAML value
    const uncomment = (t: string) => t.replace(/\s+#.*$/, '');
    let value = uncomment(rest);
    let j = i + 1;
    for (; j < out.length && (out[j].trim() === '' || /^\s/.test(out[j])); j++) {
      const t = uncomment(out[j].trim());
      if (t === '') value += '\n';
      else value += value.endsWith('\n') ? t : ` ${t}`;
      out[j] = '';
    }
    value = value.replace(/\n+$/, '');
    out[i] = `${m[1]}${m[2]}${JSON.stringify(value)}`;
    changed = true;
    i = j - 1;
  }
  return changed ? out : null;
}

/** Baton's keys of the parsed front matter: text, a list of text, or null (absent or empty). */
function readUsedKeys(doc: Document, lineOf: LineOf): Record<string, Value> {
  const data: Record<string, Value> = {};
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return data;
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new Error(`front matter line ${node?.range ? lineOf(node.range[0]) : 1}: ${message}`);
  };
  if (!isMap(root)) return fail(root, 'expected "key: value" lines, not a single value or a list');
  const seen = new Set<string>();
  for (const pair of root.items) {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : null;
    if (key === null) return fail(keyNode, 'keys must be plain text');
    if (seen.has(key)) fail(keyNode, `"${key}" appears twice`);
    seen.add(key);
    if (!USED.has(key)) continue; // not read by Baton: any YAML is fine
    const value = pair.value as Node | null;
    data[key] = valueOf(key, value, keyNode, doc, fail);
  }
  return data;
}

function valueOf(key: string, node: Node | null, keyNode: Node | null, doc: Document, fail: (node: Node | null | undefined, message: string) => never): Value {
  if (node === null || node === undefined) return null;
  if (isMap(node)) {
    if (node.flow) fail(keyNode, `"${key}": nested mappings are not supported`);
    fail(node, `"${key}" must be text or a list of "- item" lines; nested YAML is not supported`);
  }
  if (isSeq(node)) {
    return node.items.map(item => {
      const resolved = resolve(item as Node, doc, fail);
      if (!isScalar(resolved)) return fail(item as Node, `"${key}": list items must be plain or quoted text; nested YAML is not supported`);
      return resolved.value === null ? '' : String(resolved.value);
    });
  }
  const resolved = resolve(node, doc, fail);
  if (!isScalar(resolved)) return valueOf(key, resolved, keyNode, doc, fail);
  return resolved.value === null ? null : String(resolved.value);
}

/** The node an alias (`*name`) points to, or the node itself. */
function resolve(node: Node, doc: Document, fail: (node: Node | null | undefined, message: string) => never): Node {
  if (!isAlias(node)) return node;
  const target = node.resolve(doc);
  if (!target) return fail(node, `unknown alias *${node.source} (its "&${node.source}" anchor must come first)`);
  return target as Node;
}
