import type { AgentProfile } from './profiles';

/** Where a session's agent CLI sends its OpenTelemetry metrics (Baton's OTLP/HTTP receiver). */
export interface TelemetryEndpoint {
  /** OTLP/HTTP base URL on 127.0.0.1, e.g. `http://127.0.0.1:43117/otlp` (exporters append `/v1/metrics`). */
  url: string;
  /** The session's telemetry token (src/host/telemetryTokens.ts): never the MCP or operator token. */
  token: string;
}

/** What to add to the agent's launch so it reports token usage (and cost, where it has one) to Baton. */
export interface TelemetryWiring {
  /** Extra arguments, after the profile's own (and the MCP wiring's) and before the prompt. */
  args: string[];
  /** Extra environment variables. */
  env: Record<string, string>;
  /** One line for the log; never contains the token. */
  description: string;
  /** Whether this CLI reports usage to Baton this way (false: Baton shows "not reported"). */
  reports: boolean;
}

/** How often the CLIs export metrics while running (ms); they also export when they exit. */
export const METRIC_EXPORT_INTERVAL_MS = 10_000;

/**
 * The environment and arguments that make the agent of `profile` export its token (and cost) metrics to
 * Baton's OTLP receiver for this one session, in OTLP/HTTP with JSON encoding, the token in
 * `OTEL_EXPORTER_OTLP_METRICS_HEADERS` (read by the OpenTelemetry SDKs of all four CLIs; metrics-only, so
 * traces and logs of programs the agent runs keep their own settings). Nothing of the person's
 * configuration is written: everything is per-session environment, or Codex's `-c` overrides. Found in
 * the CLIs' bundles and checked by capturing their exports (test/unit/fixtures/otlp):
 *
 * - `claude` (Claude Code 2.1): `CLAUDE_CODE_ENABLE_TELEMETRY=1`, `OTEL_METRICS_EXPORTER=otlp`,
 *   `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/json`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`,
 *   `OTEL_METRIC_EXPORT_INTERVAL`.
 *   Reports tokens by type and cost in USD.
 * - `gemini` (Gemini CLI 0.61): `GEMINI_TELEMETRY_ENABLED=true`, `GEMINI_TELEMETRY_TARGET=local`,
 *   `GEMINI_TELEMETRY_OTLP_ENDPOINT`, `GEMINI_TELEMETRY_OTLP_PROTOCOL=http` (JSON). Tokens, no cost.
 * - `qwen` (Qwen Code 0.24): the same with `QWEN_TELEMETRY_*`. Tokens, no cost.
 * - `codex` (Codex 0.169): `-c otel.metrics_exporter={otlp-http={endpoint="<url>/v1/metrics",protocol="json"}}`
 *   (the token stays in the environment). Tokens, no cost.
 * - other styles (`aider`, `env-only`): nothing (`reports: false`): Baton shows "not reported".
 *
 * Prompts and responses are not asked for (no `OTEL_LOG_USER_PROMPTS`; `*_LOG_PROMPTS=false`), and no
 * logs or traces exporter is set. @throws Error when `endpoint.url` is not an http URL on a loopback host.
 */
export function wireTelemetry(profile: AgentProfile, endpoint: TelemetryEndpoint): TelemetryWiring {
  let parsed: URL;
  try {
    parsed = new URL(endpoint.url);
  } catch {
    throw new Error(`Baton's OTLP URL is not a URL: ${JSON.stringify(endpoint.url)}`);
  }
  if (parsed.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(`Baton's OTLP URL must be http on the loopback address, got ${endpoint.url}`);
  }
  const url = endpoint.url.replace(/\/+$/, '');
  const label = profile.label || profile.id;
  // Metrics-only variables (OTLP exporter spec: the per-signal ones win over OTEL_EXPORTER_OTLP_*), so an
  // OpenTelemetry-instrumented program the agent runs keeps its own traces and logs settings.
  const standard: Record<string, string> = {
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: `Authorization=Bearer ${endpoint.token}`,
    OTEL_METRIC_EXPORT_INTERVAL: String(METRIC_EXPORT_INTERVAL_MS),
  };
  switch (profile.mcp) {
    case 'claude':
      return {
        args: [], reports: true,
        env: {
          ...standard, CLAUDE_CODE_ENABLE_TELEMETRY: '1', OTEL_METRICS_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${url}/v1/metrics`,
        },
        description: `${label} reports tokens and cost to ${url}/v1/metrics (OTLP/HTTP JSON, CLAUDE_CODE_ENABLE_TELEMETRY)`,
      };
    case 'gemini':
    case 'qwen': {
      const prefix = profile.mcp === 'gemini' ? 'GEMINI' : 'QWEN';
      return {
        args: [], reports: true,
        env: {
          ...standard, [`${prefix}_TELEMETRY_ENABLED`]: 'true', [`${prefix}_TELEMETRY_TARGET`]: 'local',
          [`${prefix}_TELEMETRY_OTLP_ENDPOINT`]: url, [`${prefix}_TELEMETRY_OTLP_PROTOCOL`]: 'http', [`${prefix}_TELEMETRY_LOG_PROMPTS`]: 'false',
        },
        description: `${label} reports tokens to ${url} (OTLP/HTTP JSON, ${prefix}_TELEMETRY_*; it reports no cost)`,
      };
    }
    case 'codex':
      return {
        args: ['-c', `otel.metrics_exporter={otlp-http={endpoint=${JSON.stringify(`${url}/v1/metrics`)},protocol="json"}}`],
        env: { ...standard }, reports: true,
        description: `${label} reports tokens to ${url}/v1/metrics (-c otel.metrics_exporter=…, token in OTEL_EXPORTER_OTLP_METRICS_HEADERS; it reports no cost)`,
      };
    default:
      // No known token metrics: nothing is set (a person's own OTEL_* settings for that tool stay as they are).
      return { args: [], env: {}, reports: false, description: `${label} reports no usage Baton can read: its tokens and cost show as "not reported"` };
  }
}
