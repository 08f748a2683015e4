// Entry-point plumbing: an expected start-up problem (bad config, a port taken, a server that
// cannot be reached, a missing binary) prints one message that says what to fix; anything else
// is a bug and keeps its stack trace.
import { ConfigError } from './config.js';
import { StartupError } from './errors.js';

export function say(message: string): void {
  console.log(`[bigbrotr] ${message}`);
}

export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      if (err instanceof ConfigError || err instanceof StartupError) console.error(`[bigbrotr] ${err.message}`);
      else console.error(err);
      process.exit(1);
    },
  );
}
