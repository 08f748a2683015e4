// The Validator's page of candidates takes only those due: new ones, and those last probed their
// wait ago or more: the interval, or, after `backoff.after` failures in a row, their ladder step's
// (common/backoff.ts). A pass woken early (new candidates from the Finder) probes what is new, and
// a dead candidate fails at most once per wait, however often passes run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createValidatorActivities } from '../../activities/validator/validator.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const HOUR = 3600;
let t: TestDatabase;
before(async () => {
  t = await freshDatabase();
  const now = Math.floor(Date.now() / 1000);
  // The shipped config: interval 1 h; after 3 failures in a row 3 h, then 24 h; dropped at 5.
  const rows: Array<[string, number, number | null]> = [
    ['new', 0, null],
    ['just-failed', 1, now - 60],
    ['failed-long-ago', 2, now - 2 * HOUR],
    ['third-failure-2h-ago', 3, now - 2 * HOUR], // on the 3 h step: not due
    ['third-failure-4h-ago', 3, now - 4 * HOUR], // due
    ['fourth-failure-20h-ago', 4, now - 20 * HOUR], // on the 24 h step: not due
    ['fourth-failure-25h-ago', 4, now - 25 * HOUR], // due
  ];
  for (const [name, failures, checkedAt] of rows) {
    await t.db.query(
      `INSERT INTO candidate (url, network, source, discovered_at, failures, last_checked_at) VALUES ($1, 'clearnet', 'seed', 1, $2, $3)`,
      [`wss://${name}.example`, failures, checkedAt],
    );
  }
});
after(() => t?.drop());

describe('the Validator, woken early', () => {
  it('pages only the candidates due: new ones, those probed an interval ago, those past their ladder step', async () => {
    const acts = createValidatorActivities({ db: t.db, config: testConfig(t.url) });
    const page = await acts.candidatePage({ after: null, limit: 100, networks: ['clearnet'] });
    assert.deepEqual(page.map((r) => r.url), [
      'wss://failed-long-ago.example', 'wss://fourth-failure-25h-ago.example', 'wss://new.example', 'wss://third-failure-4h-ago.example',
    ]);
  });

  it('a failed probe says the candidate\'s ladder step and when it is probed next', async () => {
    const acts = createValidatorActivities({ db: t.db, config: testConfig(t.url) });
    const before = Date.now();
    const r = await acts.recordValidation({ url: 'wss://failed-long-ago.example', network: 'clearnet', verdict: 'invalid', reason: 'refused: connect ECONNREFUSED' });
    assert.equal(r.result, 'failed');
    assert.equal(r.failures, 3);
    assert.equal(r.step, 1);
    const wait = Date.parse(r.nextProbeAt!) - before;
    assert.ok(wait > 3 * HOUR * 1000 - 5000 && wait <= 3 * HOUR * 1000 + 1000, `next probe in 3 h, not ${wait} ms`);
    const fresh = await acts.recordValidation({ url: 'wss://new.example', network: 'clearnet', verdict: 'invalid', reason: 'refused: connect ECONNREFUSED' });
    assert.deepEqual([fresh.failures, fresh.step], [1, 0], 'the first failure waits the interval');
  });
});
