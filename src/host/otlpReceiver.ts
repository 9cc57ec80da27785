import { BatonError } from '../core/errors';
import { decodeLogsRequest, decodeMetricsRequest, OtlpDecodeError } from './otlpDecode';
import type { TelemetryTokens } from './telemetryTokens';
import type { UsageService } from '../services/usageService';

/** The path prefix of Baton's OTLP receiver on its loopback HTTP server (`<prefix>/v1/metrics`, `/v1/logs`, `/v1/traces`). */
export const OTLP_PATH = '/otlp';

/** An OTLP/HTTP request as the HTTP server hands it over (after the token was checked). */
export interface OtlpRequest {
  method: string;
  /** Path after the host, e.g. `/otlp/v1/metrics`. */
  path: string;
  contentType: string | undefined;
  body: Buffer;
}

/** The answer: status, content type, body. */
export interface OtlpResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * Baton's OTLP/HTTP receiver (OTLP 1.x, "OTLP/HTTP"): `POST /otlp/v1/metrics` stores the token and cost
 * samples in the body for the session its bearer token names; `/v1/logs` and `/v1/traces` are accepted
 * and dropped (so exporters do not retry). Authentication: `Authorization: Bearer <session telemetry
 * token>` (see TelemetryTokens), never the MCP or operator token; a missing or foreign token gets 401
 * (answered by the HTTP server from `sessionOf`, before the body is read).
 * Success is `200 {}` (an empty ExportServiceResponse, JSON). Errors: 405 for a method other than POST,
 * 404 for another path, 400/415 from the decoder (the message says what was wrong), 404 for a session
 * Baton has no record of.
 */
export function createOtlpReceiver(tokens: TelemetryTokens, usage: UsageService, log?: (level: 'info' | 'warn', message: string) => void): {
  sessionOf: (authorization: string | undefined) => string | null;
  receive: (sessionId: string, request: OtlpRequest) => OtlpResponse;
} {
  const sessionOf = (authorization: string | undefined) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    return bearer ? tokens.sessionOf(bearer) : null;
  };
  return { sessionOf, receive: (sessionId, request) => {
    if (request.method !== 'POST') return text(405, 'Method not allowed: OTLP/HTTP exports are POST requests.');
    const signal = request.path.slice(OTLP_PATH.length);
    try {
      if (signal === '/v1/metrics') {
        const samples = decodeMetricsRequest(request.contentType, request.body);
        usage.record(sessionId, samples);
        return ok();
      }
      if (signal === '/v1/logs') {
        decodeLogsRequest(request.contentType, request.body);
        return ok();
      }
      if (signal === '/v1/traces') return ok();
      return text(404, `Not found: Baton's OTLP receiver takes ${OTLP_PATH}/v1/metrics, ${OTLP_PATH}/v1/logs and ${OTLP_PATH}/v1/traces.`);
    } catch (error) {
      if (error instanceof OtlpDecodeError) {
        log?.('warn', `[Telemetry] ${sessionId}: ${error.message}`);
        return text(error.status, error.message);
      }
      if (error instanceof BatonError && error.code === 'NOT_FOUND') return text(404, error.message);
      throw error;
    }
  } };
}

function ok(): OtlpResponse {
  return { status: 200, contentType: 'application/json', body: '{}' };
}

function text(status: number, body: string): OtlpResponse {
  return { status, contentType: 'text/plain; charset=utf-8', body };
}
