/**
 * Which agent does a task: an agent profile (`claude`, `codex`, `my-profile`) and an optional role (an
 * agent definition in `.claude/agents/<role>.md`, e.g. `reviewer`). Written `profile[:role]`, with an
 * optional leading `@` (`@claude:reviewer`). A sprint's agent is the default of its tasks.
 *
 * Pure: no I/O, no `vscode`.
 */
import { invalid } from './errors';

/** A task's or sprint's agent. `role` null means the profile's own behaviour, no role definition. */
export interface AgentRef {
  profile: string;
  role: string | null;
}

/**
 * The agent CLIs Baton has built-in profiles for (the ids of `BUILTIN_PROFILES` in
 * `src/sessions/profiles.ts`, without `shell`). A bare `@name` mention in a plan's task line is read as
 * an agent only for these names, so `@alice` or `@types/node` in prose is left alone.
 */
export const BUILTIN_AGENT_PROFILES = ['claude', 'codex', 'gemini', 'qwen', 'aider'] as const;

/** A profile or role name: letters, digits, `-`, `_`, `.`, 1–64 characters. */
const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Throws INVALID_ARGUMENT naming `value` unless it is a valid profile or role name. */
export function checkAgentName(what: 'profile' | 'role', value: unknown): string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    const shown = typeof value === 'string' ? `"${value.length > 80 ? `${value.slice(0, 79)}…` : value}"` : String(value);
    throw invalid(`Agent ${what} must be a name of letters, digits, "-", "_" or "." (1–64 characters), got ${shown}.`);
  }
  return value;
}

/**
 * Validates an agent given as an object (`{ profile, role }`); returns a fresh copy. Throws
 * INVALID_ARGUMENT naming the bad value.
 */
export function checkAgentRef(ref: { profile: unknown; role?: unknown }): AgentRef {
  const profile = checkAgentName('profile', ref.profile);
  const role = ref.role === undefined || ref.role === null || ref.role === '' ? null : checkAgentName('role', ref.role);
  return { profile, role };
}

/**
 * Parses `profile[:role]` with an optional leading `@` (`codex`, `claude:reviewer`, `@gemini`).
 * Surrounding spaces are ignored. Throws INVALID_ARGUMENT naming the bad part.
 */
export function parseAgentRef(text: string): AgentRef {
  const trimmed = String(text).trim().replace(/^@/, '');
  if (!trimmed) throw invalid('Agent must be written profile or profile:role (e.g. "codex", "claude:reviewer"), got an empty text.');
  const colon = trimmed.indexOf(':');
  if (colon === -1) return { profile: checkAgentName('profile', trimmed), role: null };
  return checkAgentRef({ profile: trimmed.slice(0, colon), role: checkAgentName('role', trimmed.slice(colon + 1)) });
}

/** `claude:reviewer`, or `codex` when there is no role. */
export function formatAgentRef(ref: AgentRef): string {
  return ref.role ? `${ref.profile}:${ref.role}` : ref.profile;
}

/** Whether two agents (either may be null) are the same. */
export function sameAgent(a: AgentRef | null | undefined, b: AgentRef | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.profile === b.profile && (a.role ?? null) === (b.role ?? null);
}

/** What an `Agent:` line or an `@name` mention in a plan says. */
export type AgentMention =
  | { kind: 'agent'; agent: AgentRef; written: string }
  | { kind: 'bad'; written: string; reason: string };

/** `Agent: codex`, `**Agent:** claude:reviewer`, `- Agent: @gemini` (the label starts the text). */
const AGENT_LABEL_RE = /^\s*(?:[-*+]\s+)?agent\s*:\s*(.*)$/i;
/** A trailing (or leading) `@name` or `@name:role` on a task line (not inside a word or an e-mail). */
const MENTION_RE = /(^|\s)@([A-Za-z0-9._-]{1,64})(?::([A-Za-z0-9._-]{1,64}))?(?=\s*$)|^\s*@([A-Za-z0-9._-]{1,64})(?::([A-Za-z0-9._-]{1,64}))?(?=\s)/;

/**
 * Reads an `Agent:` label line (the whole text is the label and its value). Returns null when the text
 * is no such line; a `bad` mention (with the reason) when the value is not `[@]profile[:role]`.
 * `Agent: none` / `-` is read as no agent (null too).
 */
export function readAgentLine(text: string): AgentMention | null {
  const m = AGENT_LABEL_RE.exec(text.replace(/[*_`]/g, ''));
  if (!m) return null;
  const value = m[1].trim().replace(/[.;,]$/, '');
  if (/^(?:none|n\/?a|-+|—|tbd)?$/i.test(value)) return null;
  try {
    return { kind: 'agent', agent: parseAgentRef(value), written: value };
  } catch (err) {
    return { kind: 'bad', written: value, reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Finds an `@name[:role]` mention at the end (or the start) of a task line, for a name in `profiles`
 * (default {@link BUILTIN_AGENT_PROFILES}). Returns the line without the mention, and the agent; the
 * line unchanged and null when there is none.
 */
export function extractAgentMention(
  line: string,
  profiles: readonly string[] = BUILTIN_AGENT_PROFILES,
): { text: string; agent: AgentRef | null } {
  const m = MENTION_RE.exec(line);
  if (!m) return { text: line, agent: null };
  const profile = m[2] ?? m[4];
  const role = m[3] ?? m[5] ?? null;
  if (!profiles.includes(profile.toLowerCase())) return { text: line, agent: null };
  const text = (line.slice(0, m.index) + (m[1] ?? '') + line.slice(m.index + m[0].length)).replace(/\s+/g, ' ').trim();
  return { text, agent: { profile: profile.toLowerCase(), role } };
}
