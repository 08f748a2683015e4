// The process's logger (config `logging`): one JSON object a line in production (json, or auto
// when stdout is not a terminal), readable lines at a terminal (text). It is the Temporal
// Runtime's logger (workers/runtime.ts), so workflow `log.*` (replay-safe: the SDK drops what a
// replay logs again) and activity `log.*` come through it with their attributes, mapped to flat
// fields: service, workflowId, relay, activity... The launcher's own lines (`say`) too.
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import type { Config } from '../common/config.js';
import { serviceOf } from '../activities/shared/metrics.js';

export type LogFormat = 'json' | 'text';
export type LevelName = Config['logging']['level'];

const LEVELS: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
/** The SDK's key for the time a workflow logged at (worker/lib/logger.js, workflow/lib/logs.js). */
const LOG_TIMESTAMP = Symbol.for('log_timestamp');
/** SDK attributes that say nothing to a reader (a task token is an opaque blob). */
const DROPPED = new Set(['taskToken', 'sdkComponent', 'namespace', 'isLocal']);
/**
 * Errors that are a relay's answer, not a fault of ours: a sync activity that a relay left
 * mid-window fails with one, and Temporal retries it. The SDK logs such a failure at warn with the
 * stack; here it is info, with the message.
 */
const EXPECTED_ERRORS = new Set(['RelayError', 'RelayRefused', 'NegentropyError']);

/**
 * The SDK's lines about what this design does on purpose (a network's workers serve activities
 * only; nothing uses Nexus) and its per-worker state changes: debug, not a person's business.
 */
const BY_DESIGN = new Set([
  'No workflows registered, not polling for workflow tasks',
  'No Nexus services registered, not polling for Nexus tasks',
  'Worker state changed',
]);

export interface LogLine {
  time: string;
  level: string;
  message: string;
  service: string;
  workflowId?: string;
  relay?: string;
  [field: string]: unknown;
}

export class BigBrotrLogger implements Logger {
  private readonly severity: number;
  constructor(
    readonly format: LogFormat,
    level: LevelName,
    /** The process: launcher, worker, api (a line outside any workflow names it as its service). */
    readonly process: string,
    private readonly write: (line: string) => void = (line) => void globalThis.process.stdout.write(`${line}\n`),
  ) {
    this.severity = LEVELS.indexOf(level.toUpperCase() as LogLevel);
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const line = this.entry(level, message, meta);
    if (!line) return;
    this.write(this.format === 'json' ? JSON.stringify(line) : textLine(line));
  }
  trace(message: string, meta?: LogMetadata) { this.log('TRACE', message, meta); }
  debug(message: string, meta?: LogMetadata) { this.log('DEBUG', message, meta); }
  info(message: string, meta?: LogMetadata) { this.log('INFO', message, meta); }
  warn(message: string, meta?: LogMetadata) { this.log('WARN', message, meta); }
  error(message: string, meta?: LogMetadata) { this.log('ERROR', message, meta); }

  /** The line's fields, or undefined below the level. */
  entry(level: LogLevel, message: string, meta: LogMetadata = {}): LogLine | undefined {
    const nanos = meta[LOG_TIMESTAMP] as bigint | undefined;
    let lvl = level;
    const err = meta.error ?? meta.failure;
    if ((lvl === 'WARN' || lvl === 'ERROR') && err instanceof Error && EXPECTED_ERRORS.has(err.name)) lvl = 'INFO';
    if ((lvl === 'WARN' || lvl === 'INFO') && BY_DESIGN.has(message)) lvl = 'DEBUG';
    if (LEVELS.indexOf(lvl) < this.severity) return undefined;
    const line: LogLine = {
      time: (nanos !== undefined ? new Date(Number(nanos / 1_000_000n)) : new Date()).toISOString(),
      level: lvl.toLowerCase(),
      message,
      service: meta.workflowType ? serviceOf(String(meta.workflowType)) : this.process,
    };
    for (const [key, value] of Object.entries(meta)) {
      if (DROPPED.has(key) || value === undefined) continue;
      if (key === 'url' || key === 'relay') line.relay = String(value);
      else if (key === 'workflowRunId') line.runId = value;
      else if (key === 'error' || key === 'failure') Object.assign(line, errorFields(value, lvl));
      else line[key] = fieldValue(value);
    }
    // A relay's own workflow (monitor/<url>, sync/<url>, validate/<url>) names its relay.
    if (!line.relay && typeof line.workflowId === 'string') {
      const m = /^[a-z]+\/(wss?:\/\/.+)$/.exec(line.workflowId);
      if (m) line.relay = m[1];
    }
    if (meta.sdkComponent && meta.sdkComponent !== 'workflow' && meta.sdkComponent !== 'activity') line.component = meta.sdkComponent;
    return line;
  }
}

function errorFields(value: unknown, level: LogLevel): Record<string, unknown> {
  if (!(value instanceof Error)) return { error: fieldValue(value) };
  const out: Record<string, unknown> = { error: `${value.name}: ${value.message}` };
  // A stack belongs to a fault: what an expected error was logged at (info) needs none.
  if ((level === 'WARN' || level === 'ERROR') && value.stack) out.stack = value.stack;
  return out;
}

function fieldValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return value;
}

/** `2025-01-01T00:00:00.000Z INFO  [monitor] message relay=wss://… k=v` */
function textLine(l: LogLine): string {
  const { time, level, message, service, ...rest } = l;
  const fields = Object.entries(rest)
    .filter(([k]) => k !== 'stack')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  const head = `${time} ${level.toUpperCase().padEnd(5)} [${service}] ${message}${fields.length ? ` ${fields.join(' ')}` : ''}`;
  return typeof rest.stack === 'string' ? `${head}\n${rest.stack}` : head;
}

/** auto: text at a terminal, JSON lines otherwise (a container, a pipe, a log collector). */
export function resolveFormat(format: Config['logging']['format'], tty = process.stdout.isTTY === true): LogFormat {
  return format === 'auto' ? (tty ? 'text' : 'json') : format;
}

let current: BigBrotrLogger | undefined;

/** The process's logger, made once from the config; `say` and the Runtime use it. */
export function configureLogging(config: Pick<Config, 'logging'>, processName: string): BigBrotrLogger {
  current = new BigBrotrLogger(resolveFormat(config.logging.format), config.logging.level, processName);
  return current;
}

/** The logger configureLogging made, if any. */
export function processLogger(): BigBrotrLogger | undefined {
  return current;
}
