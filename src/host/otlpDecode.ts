/*
 * Decoding of OTLP/HTTP requests (OpenTelemetry Protocol 1.x, "OTLP/HTTP", JSON encoding:
 * https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) into the token and cost samples the
 * agent CLIs report. The request shapes are those of opentelemetry-proto's `ExportMetricsServiceRequest` /
 * `ExportLogsServiceRequest` in the protobuf JSON mapping (field names as in
 * https://github.com/open-telemetry/opentelemetry-proto, `opentelemetry/proto/metrics/v1/metrics.proto`).
 * No OpenTelemetry JavaScript package decodes OTLP requests: `@opentelemetry/otlp-transformer` (its current source)
 * only serializes them and exports just the response types and serializers, so the subset used here is
 * declared below, named as in that package's internal types (IExportMetricsServiceRequest, IResourceMetrics,
 * IMetric, ISum, IHistogram, INumberDataPoint, IKeyValue, IAnyValue), and parsed with JSON.parse.
 * Only the JSON encoding is accepted: every CLI Baton configures sends it (Claude Code with
 * `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/json`, Gemini CLI and Qwen Code with their `http` protocol, Codex with
 * `protocol = "json"`). A protobuf body is refused with a message saying so.
 *
 * What the CLIs emit (read from their bundles and captured from real runs, test/unit/fixtures/otlp):
 * - Claude Code 2.1: `claude_code.token.usage` (unit `tokens`, attribute `type` = input | output | cacheRead
 *   | cacheCreation, `model`) and `claude_code.cost.usage` (unit `USD`, `model`): monotonic sums, DELTA
 *   temporality by default.
 * - Qwen Code 0.24: `qwen-code.token.usage` (`type` = input | output | cache | thought, `model`):
 *   CUMULATIVE sums; no cost.
 * - Gemini CLI 0.61: `gemini_cli.token.usage` (`type` = input | output | thought | cache | tool, `model`):
 *   CUMULATIVE sums; no cost.
 * - Codex 0.169: `codex.turn.token_usage`, a DELTA histogram whose points' `sum` is the tokens of the
 *   interval (`token_type` = input (cached included) | cached_input | cache_write_input | output |
 *   reasoning_output (part of output, not kept apart) | total (not kept)); its cost (`codex.turn_cost`) needs
 *   OpenAI's pricing endpoint and is not a metric: no cost.
 */

/** One attribute value (OTLP AnyValue, JSON mapping: 64-bit integers may come as strings). */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
}
interface KeyValue { key: string; value?: AnyValue }
interface NumberDataPoint {
  attributes?: KeyValue[];
  startTimeUnixNano?: string | number;
  timeUnixNano?: string | number;
  asDouble?: number;
  asInt?: number | string;
}
/** A histogram point: only its `sum` (the total of the values recorded) is used. */
interface HistogramDataPoint {
  attributes?: KeyValue[];
  startTimeUnixNano?: string | number;
  timeUnixNano?: string | number;
  sum?: number;
}
interface Metric {
  name?: string;
  unit?: string;
  sum?: { dataPoints?: NumberDataPoint[]; aggregationTemporality?: number | string; isMonotonic?: boolean };
  histogram?: { dataPoints?: HistogramDataPoint[]; aggregationTemporality?: number | string };
}
interface ExportMetricsServiceRequest {
  resourceMetrics?: { resource?: { attributes?: KeyValue[] }; scopeMetrics?: { metrics?: Metric[] }[] }[];
}

/** The kinds of usage Baton keeps: token counts by type, and cost in US dollars. */
export const USAGE_KINDS = ['input', 'output', 'cacheRead', 'cacheCreation', 'thought', 'tool', 'costUsd'] as const;
export type UsageKind = (typeof USAGE_KINDS)[number];

/** One reported value of one series, as the CLI sent it. */
export interface UsageSample {
  /** The CLI that reported it: `claude`, `gemini`, `qwen`, `codex`. */
  source: string;
  /** The model named by the data point (`model` attribute), or null. */
  model: string | null;
  kind: UsageKind;
  /** Tokens, or US dollars for `costUsd`. */
  value: number;
  /**
   * `delta`: the value since the previous export of the series (add it up); `cumulative`: the total since
   * `startTimeUnixNano` (the latest one replaces the earlier ones of the same series and start).
   */
  temporality: 'delta' | 'cumulative';
  /** Identifies the series within the session: metric name and its attributes (sorted), as text. */
  series: string;
  /** Start of the series' accumulation (OTLP `startTimeUnixNano`, decimal nanoseconds as text), or ''. */
  start: string;
  /** When the value was observed (decimal nanoseconds as text), or ''. */
  time: string;
}

/** Which metric of which CLI carries what: name → source and kind (from the `type` attribute or fixed). */
const METRICS: Record<string, { source: string; typeAttribute: string; kind: (type: string) => UsageKind | null }> = {
  'claude_code.token.usage': { source: 'claude', typeAttribute: 'type', kind: tokenType },
  'claude_code.cost.usage': { source: 'claude', typeAttribute: 'type', kind: () => 'costUsd' },
  'gemini_cli.token.usage': { source: 'gemini', typeAttribute: 'type', kind: tokenType },
  'qwen-code.token.usage': { source: 'qwen', typeAttribute: 'type', kind: tokenType },
  'codex.turn.token_usage': { source: 'codex', typeAttribute: 'token_type', kind: codexTokenType },
};

/** Codex's `token_type`: reasoning is part of output and `total` the sum, so neither is kept apart. */
function codexTokenType(type: string): UsageKind | null {
  switch (type) {
    case 'input': return 'input';
    case 'output': return 'output';
    case 'cached_input': return 'cacheRead';
    case 'cache_write_input': return 'cacheCreation';
    default: return null;
  }
}

/** The `type` attribute of a token metric as a kind (the CLIs' spellings), null for one Baton does not keep. */
function tokenType(type: string): UsageKind | null {
  switch (type) {
    case 'input': return 'input';
    case 'output': return 'output';
    case 'cacheRead': case 'cache': return 'cacheRead';
    case 'cacheCreation': return 'cacheCreation';
    case 'thought': return 'thought';
    case 'tool': return 'tool';
    default: return null;
  }
}

/** Thrown for a body that is not an OTLP/HTTP JSON request; `status` is the HTTP status to answer with. */
export class OtlpDecodeError extends Error {
  constructor(readonly status: 400 | 415, message: string) {
    super(message);
  }
}

/**
 * The body of an OTLP/HTTP request as a JSON object. @throws OtlpDecodeError 415 for protobuf or another
 * content type, 400 for text that is not a JSON object.
 */
function parseJsonBody(contentType: string | undefined, body: Buffer): Record<string, unknown> {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new OtlpDecodeError(415, `Baton's OTLP receiver takes OTLP/HTTP with JSON encoding (Content-Type: application/json), got ${JSON.stringify(contentType ?? '')}: set the exporter's protocol to http/json.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new OtlpDecodeError(400, `The OTLP body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new OtlpDecodeError(400, 'The OTLP body must be a JSON object.');
  return parsed as Record<string, unknown>;
}

/** The value of an attribute as text (string, bool, int, double); '' when absent. */
function text(value: AnyValue | undefined): string {
  if (!value) return '';
  if (value.stringValue !== undefined) return String(value.stringValue);
  if (value.intValue !== undefined) return String(value.intValue);
  if (value.doubleValue !== undefined) return String(value.doubleValue);
  if (value.boolValue !== undefined) return String(value.boolValue);
  return '';
}

/** OTLP AggregationTemporality: 1 DELTA, 2 CUMULATIVE (the JSON mapping may spell the enum's name). */
function temporalityOf(value: number | string | undefined): 'delta' | 'cumulative' | null {
  if (value === 1 || value === 'AGGREGATION_TEMPORALITY_DELTA') return 'delta';
  if (value === 2 || value === 'AGGREGATION_TEMPORALITY_CUMULATIVE') return 'cumulative';
  return null;
}

/**
 * The usage samples in an OTLP/HTTP `ExportMetricsServiceRequest` (JSON encoding): the data points of the
 * token and cost metrics (sums, and Codex's histogram) of the CLIs listed above; other metrics are ignored. Attributes that identify a
 * person or machine (`user.id`, `user.email`, `organization.id`, …) are left out of the series key.
 * @throws OtlpDecodeError 415 for a non-JSON body, 400 for malformed JSON or a data point whose value is
 * not a finite non-negative number or whose sum has no temporality.
 */
export function decodeMetricsRequest(contentType: string | undefined, body: Buffer): UsageSample[] {
  const request = parseJsonBody(contentType, body) as ExportMetricsServiceRequest;
  if (request.resourceMetrics !== undefined && !Array.isArray(request.resourceMetrics)) throw new OtlpDecodeError(400, 'resourceMetrics must be an array.');
  const samples: UsageSample[] = [];
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm?.scopeMetrics ?? []) {
      for (const metric of sm?.metrics ?? []) {
        const known = metric?.name ? METRICS[metric.name] : undefined;
        const data = metric?.sum ?? metric?.histogram;
        if (!known || !data) continue;
        const temporality = temporalityOf(data.aggregationTemporality);
        if (!temporality) throw new OtlpDecodeError(400, `${metric.name} has no DELTA or CUMULATIVE aggregationTemporality.`);
        for (const point of (data.dataPoints ?? []) as (NumberDataPoint & HistogramDataPoint)[]) {
          const attrs = new Map((point.attributes ?? []).map(a => [a.key, text(a.value)]));
          const kind = known.kind(attrs.get(known.typeAttribute) ?? '');
          if (!kind || (metric.histogram && point.sum === undefined)) continue; // a histogram point may leave its sum out
          const value = metric.histogram ? point.sum : point.asDouble ?? (point.asInt !== undefined ? Number(point.asInt) : undefined);
          if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
            throw new OtlpDecodeError(400, `${metric.name} has a data point whose value is not a non-negative number: ${JSON.stringify(metric.histogram ? point.sum : point.asDouble ?? point.asInt)}.`);
          }
          const key = [...attrs].filter(([k]) => !PERSONAL.has(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(',');
          samples.push({
            source: known.source, model: attrs.get('model') || null, kind, value, temporality,
            series: `${metric.name}{${key}}`, start: String(point.startTimeUnixNano ?? ''), time: String(point.timeUnixNano ?? ''),
          });
        }
      }
    }
  }
  return samples;
}

/** Attributes that identify the person, their account or machine: never part of what Baton stores. */
const PERSONAL = new Set(['user.id', 'user.email', 'user.account_uuid', 'organization.id', 'installation.id', 'host.name']);

/**
 * Checks an OTLP/HTTP `ExportLogsServiceRequest` (JSON encoding) and returns how many log records it
 * holds. Baton takes usage from metrics (the CLIs that report tokens do so there); logs are accepted so
 * that exporters configured for them do not retry, and are not stored.
 * @throws OtlpDecodeError 415 for a non-JSON body, 400 for malformed JSON.
 */
export function decodeLogsRequest(contentType: string | undefined, body: Buffer): number {
  const request = parseJsonBody(contentType, body) as { resourceLogs?: { scopeLogs?: { logRecords?: unknown[] }[] }[] };
  if (request.resourceLogs !== undefined && !Array.isArray(request.resourceLogs)) throw new OtlpDecodeError(400, 'resourceLogs must be an array.');
  let count = 0;
  for (const rl of request.resourceLogs ?? []) for (const sl of rl?.scopeLogs ?? []) count += sl?.logRecords?.length ?? 0;
  return count;
}
