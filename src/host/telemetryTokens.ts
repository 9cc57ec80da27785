import { createHmac, timingSafeEqual } from 'node:crypto';

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Per-session telemetry tokens for Baton's OTLP receiver: `<sessionId>.<HMAC-SHA256(key, "baton-telemetry:" +
 * sessionId), base64url>`. A token names the one terminal session it was issued for, so a process can post
 * usage only for the session whose environment holds its token; it grants nothing else (not MCP, not the
 * operator tier). The key stays in the owner (see `loadOrCreateTelemetryKey`).
 */
export class TelemetryTokens {
  /** @throws Error when `key` is shorter than 32 characters. */
  constructor(private readonly key: string) {
    if (key.length < 32) throw new Error('The telemetry key must be at least 32 characters.');
  }

  /** The token for session `sessionId` (`run-3`). @throws Error for an id outside [A-Za-z0-9_-]{1,64}. */
  tokenFor(sessionId: string): string {
    if (!SESSION_ID.test(sessionId)) throw new Error(`A session id is letters, digits, "_" or "-", got ${JSON.stringify(sessionId)}.`);
    return `${sessionId}.${this.mac(sessionId)}`;
  }

  /** The session a token was issued for, or null when it is not one of this key's tokens (constant-time compare). */
  sessionOf(token: string): string | null {
    const dot = token.indexOf('.');
    if (dot < 1) return null;
    const sessionId = token.slice(0, dot);
    if (!SESSION_ID.test(sessionId)) return null;
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(sessionId));
    return given.length === expected.length && timingSafeEqual(given, expected) ? sessionId : null;
  }

  private mac(sessionId: string): string {
    return createHmac('sha256', this.key).update(`baton-telemetry:${sessionId}`).digest('base64url');
  }
}
