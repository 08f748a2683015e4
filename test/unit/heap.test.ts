import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_WORKER_HEAP_MB, workerNodeFlags } from '../../workers/heap.js';

const heapLimitOf = (flags: string[], env: NodeJS.ProcessEnv = process.env) =>
  Number(execFileSync('sh', ['-c', `node ${flags.join(' ')} -p "require('v8').getHeapStatistics().heap_size_limit / 2 ** 20"`], { env, encoding: 'utf8' }));

describe('worker heap cap', () => {
  it('the npm scripts that run workers pass the same cap as workerNodeFlags, BIGBROTR_WORKER_HEAP_MB changing both', () => {
    const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    const flag = `--max-old-space-size=\${BIGBROTR_WORKER_HEAP_MB:-${DEFAULT_WORKER_HEAP_MB}}`;
    for (const name of ['start', 'start-workers']) assert.ok(scripts[name]?.includes(`node ${flag} --import tsx workers/`), `${name}: ${scripts[name]}`);
    assert.deepEqual(workerNodeFlags({}), [`--max-old-space-size=${DEFAULT_WORKER_HEAP_MB}`]);
    assert.deepEqual(workerNodeFlags({ BIGBROTR_WORKER_HEAP_MB: '512' }), ['--max-old-space-size=512']);
  });

  it('the cap takes effect: the script flag, read by sh as npm runs it, sets the process heap limit', () => {
    const flag = '--max-old-space-size=${BIGBROTR_WORKER_HEAP_MB:-256}';
    const { BIGBROTR_WORKER_HEAP_MB: _, ...env } = process.env;
    const capped = heapLimitOf([flag], env);
    assert.ok(capped >= 256 && capped < 320, `heap limit ${capped} MB`);
    const raised = heapLimitOf([flag], { ...env, BIGBROTR_WORKER_HEAP_MB: '1024' });
    assert.ok(raised >= 1024 && raised < 1100, `heap limit ${raised} MB`);
  });
});
