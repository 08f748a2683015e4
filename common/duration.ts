import { z } from 'zod';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration as people write it in YAML or the Web UI's JSON: "90s", "15m", "1h", "2d", or milliseconds. */
export const duration = z
  .union([
    z.number().int().min(0),
    z.string().regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'expected a duration like "30s", "15m", "1h" or a number of milliseconds'),
  ])
  .transform((v) => (typeof v === 'number' ? v : durationMs(v)));

export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Math.round(Number(m[1]) * UNITS[m[2] as keyof typeof UNITS]);
}
