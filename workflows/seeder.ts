// Seeder: the one-shot bootstrap. Checks that the schema is complete, then loads the seed file
// into candidates. Running it twice inserts nothing the second time (the insert skips known URLs).
import { ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import { BAD_INPUT, parseOrFail, seederInput, type SeedReport } from '../common/index.js';
import type { SeederActivities } from '../activities/seeder/seeder.js';

const { checkSchema } = proxyActivities<SeederActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '1 minute' },
});

const { seedCandidates } = proxyActivities<SeederActivities>({
  // ~9,000 URLs take a second or two; a heartbeat per batch lets a retry resume where it stopped.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { maximumInterval: '1 minute', nonRetryableErrorTypes: [BAD_INPUT] },
});

export const SCHEMA_INCOMPLETE = 'SchemaIncomplete';

export async function seeder(raw: unknown = {}): Promise<SeedReport> {
  const input = parseOrFail(seederInput, raw, 'seeder input');
  const schema = await checkSchema();
  if (!schema.complete) {
    throw ApplicationFailure.nonRetryable(
      `the database schema is incomplete (missing: ${schema.missing.join(', ')}); ` +
        'a worker applies the migrations at start-up: start one (npm run start-workers) and run the Seeder again',
      SCHEMA_INCOMPLETE,
    );
  }
  const report = await seedCandidates(input);
  log.info('seeded candidates', { read: report.read, inserted: report.inserted, alreadyKnown: report.alreadyKnown, invalid: report.invalid });
  return report;
}
