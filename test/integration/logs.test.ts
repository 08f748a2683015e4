// The production log format: a run of the workers with the JSON logger installed as the Temporal
// Runtime's (test/helpers/log-run.ts, spawned: the Runtime is installed once per process). Every
// line on stdout is one JSON object with time, level, message and service; workflow and activity
// lines carry their workflowId and relay; expected outcomes (a candidate refused, a relay that
// refuses to be read, a relay down) are never warn or error; a dense second recorded as a gap
// (events the archive lacks) is a warning, as the operator needs it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, it } from 'node:test';
import type { LogLine } from '../../workers/logging.js';

type Line = LogLine & { component?: string };

let lines: Line[] = [];
let stderr = '';

before(async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../helpers/log-run.ts', import.meta.url).pathname], {
    env: { ...process.env, BIGBROTR__logging__format: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `the run failed:\n${stderr}\n${out}`);
  const text = out.trimEnd().split('\n');
  lines = text.map((l, i) => {
    try {
      return JSON.parse(l) as Line;
    } catch {
      return assert.fail(`stdout line ${i + 1} is not JSON: ${l}`);
    }
  });
});

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const find = (message: string | RegExp) => lines.filter((l) => (typeof message === 'string' ? l.message === message : message.test(l.message)));

describe('JSON logs', () => {
  it('every stdout line is one JSON object with time, level, message and service', () => {
    assert.ok(lines.length >= 10, `${lines.length} lines`);
    for (const l of lines) {
      assert.ok(!Number.isNaN(Date.parse(l.time)) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(l.time), `time: ${JSON.stringify(l)}`);
      assert.ok(LEVELS.includes(l.level), `level: ${JSON.stringify(l)}`);
      assert.equal(typeof l.message, 'string');
      assert.ok(l.message.length > 0);
      assert.match(l.service, /^(worker|validator|monitor|synchronizer|refresher|seeder|finder|dvm|other)$/, JSON.stringify(l));
      assert.ok(!('taskToken' in l), 'no opaque task tokens');
    }
    // The process's own lines (say) too, with the process as their service.
    const done = find('log run done');
    assert.equal(done.length, 1);
    assert.equal(done[0]!.service, 'worker');
    assert.equal(find(/^serving task queues: /).length, 1);
  });

  it('workflow lines carry the workflow, its service and its relay', () => {
    const pass = find('validator pass done')[0];
    assert.ok(pass, 'the coordinator logged its pass');
    assert.deepEqual([pass.level, pass.service, pass.workflowId, pass.workflowType], ['info', 'validator', 'validator', 'validator']);
    assert.deepEqual(pass.outcomes, { failed: 1, promoted: 1 }, 'fields, not values in the message');
    const refused = find('relay refuses to be read: looked at again later')[0];
    assert.ok(refused);
    assert.equal(refused.service, 'synchronizer');
    assert.equal(refused.workflowId, `sync/${refused.relay}`);
    assert.match(refused.relay!, /^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('activity lines carry the activity, the workflow that called it and the relay', () => {
    const refused = find('relay refuses to be read')[0];
    assert.ok(refused);
    assert.deepEqual([refused.level, refused.service, refused.activityType], ['info', 'synchronizer', 'syncWindows']);
    assert.equal(refused.workflowId, `sync/${refused.relay}`);
    const verifier = find('event verifier')[0];
    assert.ok(verifier, 'the verifier line, through the activity logger');
    assert.equal(typeof verifier.verifier, 'string');
  });

  it('expected outcomes are info or debug; a recorded gap (events the archive lacks) is a warning', () => {
    const gapMessage = 'events of one second could not all be fetched: recorded as a gap';
    const gap = find(gapMessage);
    assert.ok(gap.length >= 1, 'the dense relay left a gap');
    for (const l of gap) assert.equal(l.level, 'warn');
    assert.equal(find('promoted relay handed on')[0]?.level, 'info');
    // Nothing else of ours at warn or above: the run had only expected outcomes. (The time-skipping
    // test server is older than the SDK likes: its native side warns about that, as `core`.)
    const loud = lines.filter((l) => (l.level === 'warn' || l.level === 'error') && l.component !== 'core' && l.message !== gapMessage);
    assert.deepEqual(loud, []);
    for (const l of lines) assert.ok(!('stack' in l) || l.level === 'warn' || l.level === 'error', `a stack at ${l.level}: ${l.message}`);
  });
});
