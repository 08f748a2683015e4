// The Seeder's effects (workflows/seeder.ts calls them): check the schema, load the seed file into
// candidates in batches.
//
// The file name comes from a workflow input, which anyone with the Web UI can type, and the report
// goes back to that Web UI: so the file must be a regular file inside the seed folder (symlinks
// resolved), and it is read as a stream under the config's caps, never whole, so no input can make
// the worker read another file or run out of memory.
import { constants, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { BAD_INPUT, countReason, parseRelayUrl, type SchemaCheck, type SeederInput, type SeedReport } from '../../common/index.js';
import type { Config } from '../../common/config.js';
import type { Db } from '../db/db.js';
import { missingSchema } from '../db/migrate.js';
import { insertCandidates, type CandidateRow } from '../db/store.js';

export interface ActivityDeps {
  db: Db;
  config: Config;
}

/** How many rejected lines a report lists (all are counted): the report is shown in the Web UI and carried in heartbeats. */
export const INVALID_SAMPLES = 5;
/** How much of a rejected line, and of its reason, a sample shows. */
export const SAMPLE_CHARS = 100;
const REASON_CHARS = 200;
/** The read buffer: the most of the file in memory at once, with one line's first max_line_bytes. */
const CHUNK_BYTES = 64 * 1024;

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
    const limits = config.seeder;
    const batchSize = input.batchSize ?? limits.batch_size;
    const { path: file, fh } = await openSeedFile(config, input.file);
    try {
      // Counted first, in a pass that holds nothing: a file over the cap is refused before a row is written.
      let read = 0;
      for await (const _ of seedLines(fh, limits.max_line_bytes)) {
        if (++read > limits.max_urls) {
          throw ApplicationFailure.nonRetryable(
            `seed file ${file} holds more than ${limits.max_urls} URLs (config seeder.max_urls): split it, or raise the cap`,
            BAD_INPUT,
          );
        }
      }
      const options = { allowLocal: config.relay_url.allow_local };
      const resumed = activityInfo().heartbeatDetails as SeedProgress | undefined;
      const report: SeedReport = resumed?.report ?? {
        file, read, valid: 0, invalid: 0, invalidReasons: {}, invalidSamples: [], inserted: 0, alreadyKnown: 0,
      };
      if (resumed) log.info('resuming seed after a retry', { nextIndex: resumed.nextIndex });
      const from = resumed?.nextIndex ?? 0;

      // Lines are checked as they are read: a batch holds only normalised URLs (at most 2,048 characters each).
      let index = 0;
      let lines = 0;
      let rows: CandidateRow[] = [];
      const flush = async () => {
        report.valid += rows.length;
        const written = await insertCandidates(db, rows, Math.floor(Date.now() / 1000), options);
        report.inserted += written.inserted;
        report.alreadyKnown += written.alreadyKnown;
        // A copy: the SDK sends heartbeats later, throttled, and the report changes meanwhile.
        heartbeat(structuredClone({ nextIndex: index, report }) satisfies SeedProgress);
        [rows, lines] = [[], 0];
      };
      for await (const { line, url, tooLong } of seedLines(fh, limits.max_line_bytes)) {
        // Stops at the count the first pass found: the file may have grown meanwhile.
        if (index >= read) break;
        if (index++ < from) continue;
        const r = tooLong
          ? { ok: false as const, code: 'line-too-long', reason: `line longer than ${limits.max_line_bytes} bytes (config seeder.max_line_bytes)` }
          : parseRelayUrl(url, options);
        if (r.ok) {
          rows.push({ url: r.url, network: r.network, source: 'seed' });
        } else {
          report.invalid++;
          countReason(report.invalidReasons, r.code);
          if (report.invalidSamples.length < INVALID_SAMPLES) {
            report.invalidSamples.push({ line, url: cut(url, SAMPLE_CHARS), reason: cut(r.reason, REASON_CHARS) });
          }
        }
        if (++lines >= batchSize) await flush();
      }
      if (lines > 0) await flush();
      log.info('seed file loaded', { file, read: report.read, valid: report.valid, invalid: report.invalid, inserted: report.inserted });
      return report;
    } finally {
      await fh.close();
    }
  },
});

export type SeederActivities = ReturnType<typeof createSeederActivities>;

/** The seed folder: config `seeder.dir`, relative to the config folder (empty: the config folder). */
export function seedFolder(config: Config): string {
  return resolve(config.dir, config.seeder.dir);
}

/**
 * Opens the seed file named by the input (else by config `seeder.file`), refusing, as bad input,
 * anything that is not a regular file inside the seed folder or is larger than the size cap.
 * Refusals name the input and the folder, never anything read from the file.
 */
export async function openSeedFile(config: Config, name: string | undefined): Promise<{ path: string; fh: FileHandle }> {
  const what = name === undefined ? 'config seeder.file' : 'seeder input file';
  const shown = JSON.stringify(cut(name ?? config.seeder.file, 200));
  const refuse = (why: string) => ApplicationFailure.nonRetryable(`${what} ${shown} refused: ${why}`, BAD_INPUT);
  const folder = seedFolder(config);
  let root: string;
  try {
    root = await realpath(folder);
  } catch (err) {
    throw refuse(`the seed folder ${folder} (config seeder.dir) cannot be read (${code(err)})`);
  }
  // Checked on the name alone first, so a path outside is refused without looking at it at all.
  const wanted = resolve(root, name ?? config.seeder.file);
  if (!inside(root, wanted)) throw refuse(`seed files must be inside the seed folder ${root} (config seeder.dir)`);
  let real: string;
  let info: Stats;
  try {
    real = await realpath(wanted);
    info = await stat(real);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`cannot read seed file ${shown} in ${root}: ${code(err)}`, BAD_INPUT);
  }
  // A symlink in the folder could still lead anywhere: its target must be inside too.
  if (!inside(root, real)) throw refuse(`it leads out of the seed folder ${root} (config seeder.dir)`);
  // A FIFO would block the open, a device could be endless.
  if (!info.isFile()) throw refuse('not a regular file');
  let fh: FileHandle;
  try {
    // NOFOLLOW: the path was resolved just now; a symlink swapped in since is refused, not followed.
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`cannot read seed file ${shown} in ${root}: ${code(err)}`, BAD_INPUT);
  }
  try {
    // The size is checked on the opened file before any of it is read: a retry would only read it again.
    const { size } = await fh.stat();
    const max = config.seeder.max_file_bytes;
    if (size > max) throw refuse(`${size} bytes, more than ${max} (config seeder.max_file_bytes): split it, or raise the cap`);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return { path: real, fh };
}

/** A URL line of a seed file; `tooLong`: the line passed the length cap and `url` holds only its start. */
export interface SeedLine {
  line: number;
  url: string;
  tooLong?: true;
}

/**
 * The URL lines of an open seed file, read from its start a chunk at a time: one URL a line, `#`
 * starts a comment, blank lines are skipped. A line keeps at most `maxLineBytes` bytes in memory;
 * a longer one comes out as `tooLong` unless a comment starts within its first `maxLineBytes`.
 */
export async function* seedLines(fh: FileHandle, maxLineBytes: number): AsyncGenerator<SeedLine> {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let kept: Buffer[] = [];
  let keptBytes = 0;
  let overflow = false;
  let lineNo = 0;
  const keep = (part: Buffer) => {
    const room = maxLineBytes - keptBytes;
    if (part.length > room) overflow = true;
    if (room > 0 && part.length > 0) {
      const piece = Buffer.from(part.subarray(0, room)); // a copy: `buf` is read into again
      kept.push(piece);
      keptBytes += piece.length;
    }
  };
  const finish = (): SeedLine | undefined => {
    lineNo++;
    const raw = Buffer.concat(kept).toString('utf8');
    const wasOverflow = overflow;
    [kept, keptBytes, overflow] = [[], 0, false];
    const url = stripComment(raw);
    if (wasOverflow && !COMMENT.test(raw)) return { line: lineNo, url: raw, tooLong: true };
    return url === '' ? undefined : { line: lineNo, url };
  };
  let position = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    const chunk = buf.subarray(0, bytesRead);
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      keep(chunk.subarray(start, nl));
      const entry = finish();
      if (entry) yield entry;
      start = nl + 1;
    }
    keep(chunk.subarray(start));
  }
  if (keptBytes > 0 || overflow) {
    const entry = finish();
    if (entry) yield entry;
  }
}

/** A `#` at the start or after a space begins a comment (a `#` inside a URL does not). */
const COMMENT = /(^|\s)#/;

function stripComment(raw: string): string {
  return raw.replace(/(^|\s)#.*$/, '').trim();
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function code(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOENT' ? 'no such file' : (e.code ?? e.message);
}
