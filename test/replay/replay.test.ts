// Replays the histories recorded from real runs (npm run record-histories) against today's
// workflow code: a change that would break running workflows fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/temporal.js';

const DIR = new URL('./histories/', import.meta.url).pathname;
const histories = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: JSON.parse(readFileSync(join(DIR, f), 'utf8')) }));

describe('replay of recorded histories', () => {
  it('has a history for every workflow', () => {
    const types = new Set(histories.map((h) => h.history.events[0].workflowExecutionStartedEventAttributes.workflowType.name));
    for (const type of ['seeder', 'finder', 'validator', 'validateCandidate', 'monitor', 'monitorRelay', 'synchronizer', 'syncRelay', 'refresher', 'dvm', 'dvmJob']) assert.ok(types.has(type), `no recorded history of ${type}`);
  });

  it('covers the endings that matter: completed, continued as new, cancelled', () => {
    const endings = new Set(histories.map((h) => h.history.events.at(-1).eventType));
    for (const e of ['EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED', 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW', 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED']) {
      assert.ok(endings.has(e), `no recorded history ends in ${e}`);
    }
  });

  it('replays every history without a determinism error', async () => {
    const results = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) results.push(r);
    assert.equal(results.length, histories.length);
    for (const r of results) assert.equal(r.error, undefined, `${r.workflowId}: ${r.error?.message}`);
  });
});
