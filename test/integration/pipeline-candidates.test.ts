// The Validator's page of candidates takes only those due: new ones, and those last probed an
// interval ago or more. A pass woken early (new candidates from the Finder) probes what is new,
// and a dead candidate still fails at most once an interval, however often passes run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createValidatorActivities } from '../../activities/validator.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
before(async () => {
  t = await freshDatabase();
  const now = Math.floor(Date.now() / 1000);
  await t.db.query(
    `INSERT INTO candidate (url, network, source, discovered_at, failures, last_checked_at) VALUES
       ('wss://new.example', 'clearnet', 'seed', 1, 0, NULL),
       ('wss://just-failed.example', 'clearnet', 'seed', 1, 1, $1),
       ('wss://failed-long-ago.example', 'clearnet', 'seed', 1, 2, $2)`,
    [now - 60, now - 2 * 3600],
  );
});
after(() => t?.drop());

describe('the Validator, woken early', () => {
  it('pages only the candidates due: new ones, and those probed an interval (1 h) ago or more', async () => {
    const acts = createValidatorActivities({ db: t.db, config: testConfig(t.url) });
    const page = await acts.candidatePage({ after: null, limit: 100, networks: ['clearnet'] });
    assert.deepEqual(page.map((r) => r.url), ['wss://failed-long-ago.example', 'wss://new.example']);
  });
});
