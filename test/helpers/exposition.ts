// Parsing a Prometheus text exposition strictly (format 0.0.4): every line a `# HELP`/`# TYPE`
// comment or a sample `name{label="value",...} value`, each family typed once, each sample of a
// typed family; the samples by name and labels, for the tests' assertions.
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** The sum of the samples named `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
  /** The samples named `name` (with `labels` among theirs). */
  find(name: string, labels?: Record<string, string>): Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const VALUE = '(?:NaN|[+-]?Inf|[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP (${NAME})(?: .*)?$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''] };

export function parseExposition(text: string): Exposition {
  assert.ok(text.endsWith('\n'), 'an exposition ends with a newline');
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.slice(0, -1).split('\n');
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line.slice(0, 200))}`;
    if (line.startsWith('#')) {
      const type = TYPE.exec(line);
      if (type) {
        assert.ok(!types.has(type[1]!), `${where}: ${type[1]} typed twice`);
        types.set(type[1]!, type[2]!);
      } else assert.match(line, HELP, `${where}: a comment other than # HELP or # TYPE`);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `${where}: not a sample \`name{labels} value\``);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`, 'g'))) {
      assert.ok(!(l[1]! in labels), `${where}: label ${l[1]} twice`);
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const v = m[3]!;
    samples.push({ name: m[1]!, labels, value: v === 'NaN' ? NaN : v.endsWith('Inf') ? (v.startsWith('-') ? -Infinity : Infinity) : Number(v) });
  }
  for (const s of samples) {
    const family = familyOf(s.name, types);
    assert.ok(family, `sample ${s.name} has no # TYPE`);
  }
  const find = (name: string, want: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
  return { types, samples, find, sum: (name, want) => find(name, want).reduce((a, s) => a + s.value, 0) };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const [family, type] of types) {
    if ((SUFFIXES[type] ?? []).some((suffix) => suffix && name === family + suffix)) return family;
  }
  return undefined;
}
