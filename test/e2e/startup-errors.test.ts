// A start-up problem is one line that says what is wrong and what to do, not a stack trace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;

function run(script: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, BIGBROTR__logging__format: 'text', ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function noStack(out: string) {
  assert.doesNotMatch(out, /^\s+at .+:\d+:\d+\)?$/m, `no stack trace expected:\n${out}`);
}

describe('start-up errors', () => {
  it('a database that cannot be reached', () => {
    const r = run('workers/start-workers.ts', { DATABASE_URL: 'postgres://bigbrotr:secret@127.0.0.1:1/bigbrotr' });
    assert.equal(r.code, 1);
    assert.match(r.out, /\[bigbrotr\] cannot reach PostgreSQL at postgres:\/\/bigbrotr:\*\*\*@127\.0\.0\.1:1\/bigbrotr: .*Check DATABASE_URL/);
    assert.doesNotMatch(r.out, /secret/, 'the password is not printed');
    noStack(r.out);
  });

  it('a wrong config value names the field, the value and what is allowed', () => {
    const r = run('workers/start-workers.ts', { DATABASE_URL: 'postgres://x@127.0.0.1:1/x', BIGBROTR__monitor__max_in_flight: '0' });
    assert.equal(r.code, 1);
    assert.match(r.out, /invalid config .*bigbrotr\.yaml .*\n\s+monitor\.max_in_flight = 0: .*>=1/);
    noStack(r.out);
  });

  it('no DATABASE_URL for the workers alone', () => {
    const r = run('workers/start-workers.ts', { DATABASE_URL: '' });
    assert.equal(r.code, 1);
    assert.match(r.out, /DATABASE_URL is not set/);
    noStack(r.out);
  });

  it('a Temporal port already taken', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = run('workers/start.ts', { DATABASE_URL: process.env.DATABASE_URL ?? '', TEMPORAL_ADDRESS: '', TEMPORAL_PORT: String(port) });
      assert.equal(r.code, 1);
      assert.match(r.out, new RegExp(`port ${port} for the Temporal server is already taken .*set TEMPORAL_PORT to a free port`));
      noStack(r.out);
    } finally {
      busy.close();
    }
  });

  it('an API port already taken, before anything starts', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = run('workers/start.ts', { DATABASE_URL: process.env.DATABASE_URL ?? '', TEMPORAL_ADDRESS: '', BIGBROTR__api__port: String(port) });
      assert.equal(r.code, 1);
      assert.match(r.out, new RegExp(`port ${port} for the HTTP API is already taken .*BIGBROTR__api__port`));
      assert.doesNotMatch(r.out, /Temporal: dev server/, 'nothing was started');
      noStack(r.out);
    } finally {
      busy.close();
    }
  });
});
