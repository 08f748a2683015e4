/** An expected start-up problem: its message says what is wrong and how to fix it. */
export class StartupError extends Error {
  override name = 'StartupError';
}
