/**
 * Claims are leases. A task an agent claimed (IN_PROGRESS, assigned to `<name>#A-3` or to a Baton
 * terminal session `<profile>#run-3`) stays claimed while one of its holders is alive: its agent
 * session makes MCP calls or holds a stream open, or its terminal process runs. When none has been
 * alive for the lease duration, the lease lapses and the task goes back to TODO. Pure rules only:
 * `services/leaseService.ts` observes the holders and releases the task.
 */

/** Default lease of a claim: 15 minutes without any sign of life from its holders. */
export const DEFAULT_CLAIM_LEASE_MS = 900_000;

/** Who holds a claim, as named in a task's assignee. */
export interface ClaimHolderRef {
  /** `agent-session`: an MCP agent session (`A-3`); `terminal`: an agent CLI Baton runs (`run-3`). */
  kind: 'agent-session' | 'terminal';
  /** `A-3` or `run-3`. */
  id: string;
  /** The agent or profile name before the `#`, e.g. `claude`. */
  name: string;
}

/**
 * Reads the holder from a task's assignee: `claude-code#A-3` → an agent session, `claude#run-3` → a
 * terminal session; null for a person's name or no assignee (a person's claim is not a lease).
 */
export function claimHolderOf(assignee: string | null | undefined): ClaimHolderRef | null {
  const m = /^(.*)#(A-\d+|run-\d+)$/.exec(assignee ?? '');
  if (!m) return null;
  return { kind: m[2].startsWith('A-') ? 'agent-session' : 'terminal', id: m[2], name: m[1] };
}

/** What is known of one holder of a claim. */
export interface HolderSighting {
  /** How the holder is named to people, e.g. `A-3 (claude)`. */
  label: string;
  /** Alive now: an open stream, a request in flight, a running process. */
  alive: boolean;
  /** Its latest sign of life, in ms since the epoch (now when alive). */
  lastSeenAt: number;
}

export type LeaseState =
  | { lapsed: false; /** When it lapses if nothing changes (ms since the epoch); null while a holder is alive. */ expiresAt: number | null }
  | { lapsed: true; /** The holder seen last. */ holder: string; /** Its latest sign of life (ms since the epoch). */ goneSince: number };

/**
 * The lease rule: held while any holder is alive; otherwise it lapses `leaseMs` after the latest
 * sign of life of any holder. A claim with no known holder at all counts as gone since `nowMs`.
 * @throws RangeError when `leaseMs` is not a positive number.
 */
export function leaseState(holders: readonly HolderSighting[], leaseMs: number, nowMs: number): LeaseState {
  if (!(leaseMs > 0)) throw new RangeError(`The claim lease must be a positive number of milliseconds, got ${leaseMs}.`);
  if (holders.some(h => h.alive)) return { lapsed: false, expiresAt: null };
  const last = holders.reduce<HolderSighting | null>((a, h) => (!a || h.lastSeenAt > a.lastSeenAt ? h : a), null);
  const goneSince = last ? Math.min(last.lastSeenAt, nowMs) : nowMs;
  if (nowMs - goneSince < leaseMs) return { lapsed: false, expiresAt: goneSince + leaseMs };
  return { lapsed: true, holder: last?.label ?? 'nobody', goneSince };
}
