// Entry-point plumbing: an expected start-up problem (bad config, a port taken, a server that
// cannot be reached, a missing binary) prints one message that says what to fix; anything else
// is a bug and keeps its stack trace. Once the config is read (configureLogging), every line goes
// through the process's logger: JSON lines in production, `[bigbrotr] …` at a terminal.
import { ConfigError } from './config.js';
import { StartupError } from './errors.js';
import { processLogger } from './logging.js';

export function say(message: string): void {
  const logger = processLogger();
  if (logger?.format === 'json') logger.info(message);
  else console.log(`[bigbrotr] ${message}`);
}

export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      const logger = processLogger();
      const expected = err instanceof ConfigError || err instanceof StartupError;
      if (logger?.format === 'json') logger.error(expected ? (err as Error).message : 'stopped by an unexpected error', expected ? {} : { error: err });
      else if (expected) console.error(`[bigbrotr] ${(err as Error).message}`);
      else console.error(err);
      process.exit(1);
    },
  );
}
