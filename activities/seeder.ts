// The Seeder's effects: check the schema, load the seed file into candidates in batches.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { BAD_INPUT, countReason, parseRelayUrl, type SchemaCheck, type SeederInput, type SeedReport } from '../common/index.js';
import type { Config } from '../workers/config.js';
import type { Db } from './db.js';
import { missingSchema } from './migrate.js';
import { insertCandidates, type CandidateRow } from './store.js';

export interface ActivityDeps {
  db: Db;
  config: Config;
}

/** How many rejected lines a report lists by name (all are counted). */
const INVALID_SAMPLES = 20;

/** What a heartbeat carries: the batches done, so a retried attempt resumes after them. */
interface SeedProgress {
  nextIndex: number;
  report: SeedReport;
}

export const createSeederActivities = ({ db, config }: ActivityDeps) => ({
  async checkSchema(): Promise<SchemaCheck> {
    const missing = await missingSchema(db, config.deployment);
    return { complete: missing.length === 0, missing };
  },

  async seedCandidates(input: SeederInput = {}): Promise<SeedReport> {
    const file = resolve(config.dir, input.file ?? config.seeder.file);
    const batchSize = input.batchSize ?? config.seeder.batch_size;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // A missing file will not appear by retrying: fail the workflow and say which file.
      throw ApplicationFailure.nonRetryable(`cannot read seed file ${file}: ${(err as Error).message}`, BAD_INPUT);
    }
    const lines = seedFileLines(text);
    const options = { allowLocal: config.relay_url.allow_local };

    const resumed = activityInfo().heartbeatDetails as SeedProgress | undefined;
    const report: SeedReport = resumed?.report ?? {
      file, read: lines.length, valid: 0, invalid: 0, invalidReasons: {}, invalidSamples: [], inserted: 0, alreadyKnown: 0,
    };
    if (resumed) log.info('resuming seed after a retry', { nextIndex: resumed.nextIndex });

    for (let start = resumed?.nextIndex ?? 0; start < lines.length; start += batchSize) {
      const rows: CandidateRow[] = [];
      for (const { line, url } of lines.slice(start, start + batchSize)) {
        const r = parseRelayUrl(url, options);
        if (r.ok) {
          rows.push({ url: r.url, network: r.network, source: 'seed' });
          continue;
        }
        report.invalid++;
        countReason(report.invalidReasons, r.code);
        if (report.invalidSamples.length < INVALID_SAMPLES) report.invalidSamples.push({ line, url: url.slice(0, 200), reason: r.reason });
      }
      report.valid += rows.length;
      const written = await insertCandidates(db, rows, Math.floor(Date.now() / 1000), options);
      report.inserted += written.inserted;
      report.alreadyKnown += written.alreadyKnown;
      heartbeat({ nextIndex: start + batchSize, report } satisfies SeedProgress);
    }
    log.info('seed file loaded', { file, read: report.read, valid: report.valid, invalid: report.invalid, inserted: report.inserted });
    return report;
  },
});

export type SeederActivities = ReturnType<typeof createSeederActivities>;

/** The URL lines of a seed file: one URL a line; `#` starts a comment; blank lines are skipped. */
export function seedFileLines(text: string): Array<{ line: number; url: string }> {
  const out: Array<{ line: number; url: string }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const url = raw.replace(/(^|\s)#.*$/, '').trim();
    if (url !== '') out.push({ line: i + 1, url });
  });
  return out;
}
