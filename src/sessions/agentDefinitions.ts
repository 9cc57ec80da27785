import * as fs from 'node:fs';
import * as path from 'node:path';

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
 * Parses one agent definition file's text. Throws an Error saying what is wrong (with the line number
 * for front-matter problems).
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

/**
 * Splits `---` front matter from the body and reads it with a small, strict subset of YAML: one
 * `key: value` per line, where a value is plain text (the rest of the line: unlike strict YAML, colons
 * are allowed in it, as the files Claude Code generates put them in long descriptions; ` #` starts a
 * comment), a single- or double-quoted string, either continued on more indented lines (folded), a flow
 * list `[a, "b"]`, a block list (`key:` then `- item` lines), or a block scalar (`|` / `>`, optionally
 * with `-`/`+`). Comment lines and blank lines are skipped. Anything else (nested mappings, nested lists,
 * anchors, aliases, tags) is an error naming the line, except under keys Baton does not read (`color:`,
 * `hooks:`, `mcpServers:` …), whose content, nested or not, is skipped.
 */
function splitFrontMatter(text: string): { data: Record<string, Value>; body: string } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trim() !== '---') throw new Error('no front matter: the file must start with a "---" line');
  const end = lines.findIndex((l, i) => i > 0 && /^(---|\.\.\.)\s*$/.test(l));
  if (end < 0) throw new Error('front matter is not closed: no "---" line after the opening one');
  const data: Record<string, Value> = {};
  const USED = new Set(['name', 'description', 'model', 'tools']);
  let i = 1;
  const fail = (line: number, message: string): never => {
    throw new Error(`front matter line ${line + 1}: ${message}`);
  };
  const indentOf = (l: string) => l.length - l.trimStart().length;
  while (i < end) {
    const line = lines[i];
    if (line.trim() === '' || line.trimStart().startsWith('#')) {
      i++;
      continue;
    }
    if (indentOf(line) > 0) fail(i, `unexpected indented line "${line.trim()}"`);
    const m = /^([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$/.exec(line.trimEnd());
    if (!m) fail(i, `expected "key: value", got "${line.trim()}"`);
    const key = m![1];
    const rest = (m![2] ?? '').trim();
    if (key in data) fail(i, `"${key}" appears twice`);
    const start = i;
    i++;
    // The lines that belong to this key: blank or indented ones, and "- item" lines for a list.
    const block: string[] = [];
    while (i < end && (lines[i].trim() === '' || indentOf(lines[i]) > 0 || (rest === '' && /^-(\s|$)/.test(lines[i])))) {
      block.push(lines[i]);
      i++;
    }
    while (block.length && block[block.length - 1].trim() === '') block.pop();
    if (!USED.has(key)) {
      data[key] = null; // not read by Baton: its content, nested or not, is skipped
      continue;
    }
    if (/^[|>][+-]?$/.test(rest)) {
      data[key] = blockScalar(rest, block);
      continue;
    }
    if (rest === '') {
      if (block.length === 0) {
        data[key] = null;
        continue;
      }
      const items: string[] = [];
      block.forEach((b, k) => {
        if (b.trim() === '' || b.trimStart().startsWith('#')) return;
        const item = /^\s*-(?:\s+(.*))?$/.exec(b);
        if (!item) fail(start + 1 + k, `"${key}" must be text or a list of "- item" lines; nested YAML is not supported`);
        const value = (item![1] ?? '').trim();
        if (/^[\w-]+\s*:(\s|$)/.test(value) || value.startsWith('[') || value.startsWith('{') || value === '-' || value.startsWith('- ')) {
          fail(start + 1 + k, `"${key}": list items must be plain or quoted text; nested YAML is not supported`);
        }
        items.push(scalar(value, start + 1 + k, fail));
      });
      data[key] = items;
      continue;
    }
    let value = rest;
    if (block.length) {
      // A plain or quoted scalar continued on indented lines: folded (lines joined by spaces, a blank line is a newline).
      for (const b of block) {
        const t = b.trim();
        if (t === '') value += '\n';
        else value += value.endsWith('\n') ? t : ` ${t}`;
      }
    }
    if (value.startsWith('[')) {
      if (!value.endsWith(']')) fail(start, `"${key}": a "[" list must end with "]"`);
      data[key] = splitFlow(value.slice(1, -1), start, fail).map(x => scalar(x, start, fail)).filter(x => x !== '');
      continue;
    }
    if (value.startsWith('{')) fail(start, `"${key}": nested mappings are not supported`);
    data[key] = scalar(value, start, fail);
  }
  return { data, body: lines.slice(end + 1).join('\n') };
}

/** A YAML scalar on one line: quoted (with escapes) or plain (trailing ` # comment` removed). */
function scalar(raw: string, line: number, fail: (line: number, message: string) => never): string {
  const s = raw.trim();
  if (s.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"\s*(#.*)?$/.exec(s);
    if (!m) fail(line, `unterminated or malformed double-quoted string ${s.slice(0, 40)}`);
    try {
      return JSON.parse(`"${m![1].replace(/\\x([0-9A-Fa-f]{2})/g, '\\u00$1').replace(/\\'/g, "'").replace(/\t/g, '\\t').replace(/\n/g, '\\n')}"`) as string;
    } catch {
      return fail(line, `unsupported escape in double-quoted string ${s.slice(0, 40)}`);
    }
  }
  if (s.startsWith("'")) {
    const m = /^'((?:[^']|'')*)'\s*(#.*)?$/.exec(s);
    if (!m) fail(line, `unterminated or malformed single-quoted string ${s.slice(0, 40)}`);
    return m![1].replace(/''/g, "'");
  }
  if (/^[&*!]/.test(s)) fail(line, `YAML anchors, aliases and tags are not supported ("${s.slice(0, 20)}")`);
  return s.replace(/\s+#.*$/, '');
}

/** Splits the inside of a flow list at commas outside quotes. */
function splitFlow(inner: string, line: number, fail: (line: number, message: string) => never): string[] {
  const parts: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let k = 0; k < inner.length; k++) {
    const c = inner[k];
    if (quote) {
      cur += c;
      if (c === '\\' && quote === '"') cur += inner[++k] ?? '';
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (c === ',') {
      parts.push(cur);
      cur = '';
    } else if (c === '[' || c === '{') {
      fail(line, 'nested lists or mappings are not supported');
    } else {
      cur += c;
    }
  }
  if (quote) fail(line, 'unterminated string in "[" list');
  parts.push(cur);
  return parts.map(p => p.trim());
}

/** A `|` (literal) or `>` (folded) block scalar with optional chomping indicator. */
function blockScalar(header: string, block: string[]): string {
  const indent = Math.min(...block.filter(b => b.trim() !== '').map(b => b.length - b.trimStart().length), Infinity);
  const lines = block.map(b => (b.trim() === '' ? '' : b.slice(indent === Infinity ? 0 : indent)));
  let text: string;
  if (header.startsWith('|')) {
    text = lines.join('\n');
  } else {
    text = '';
    lines.forEach((l, k) => {
      if (k === 0) text = l;
      else if (l === '') text += '\n';
      else text += text === '' || text.endsWith('\n') ? l : ` ${l}`;
    });
  }
  if (header.endsWith('-')) return text.replace(/\n+$/, '');
  return text.replace(/\n*$/, '\n');
}
