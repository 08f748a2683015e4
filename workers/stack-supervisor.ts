// Watches one of the launcher's processes: when it dies while the stack runs, says so in one line
// and starts it again. A server is restarted at most `limit` times in `windowMs`; past that (or
// when it will not start), `giveUp` gets one line, which server died and where its log is, and the
// launcher stops everything. A process with `backoff` (the workers, which a hostile relay may kill
// again and again) is restarted after a growing delay, for ever.
export interface Watched {
  pid?: number;
  logFile: string;
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface Supervision<T> {
  /** The server now running (a restart replaces it). */
  current(): T;
}

export interface Backoff {
  /** The first delay, doubled at each death up to maxMs... */
  firstMs: number;
  maxMs: number;
  /** ...and back to firstMs once the process has run this long. */
  resetAfterMs: number;
}

export function supervise<T extends Watched>(
  name: string,
  first: T,
  o: {
    restart: () => Promise<T>;
    /** True once the launcher stops: an exit then is expected. */
    stopping: () => boolean;
    say: (m: string) => void;
    restarted?: (server: T) => void;
    giveUp: (why: string) => void;
    limit?: number;
    windowMs?: number;
    backoff?: Backoff;
  },
): Supervision<T> {
  const limit = o.limit ?? 3;
  const windowMs = o.windowMs ?? 5 * 60_000;
  const restarts: number[] = [];
  let current = first;
  let since = Date.now();
  let delay = 0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
  void (async () => {
    for (;;) {
      const how = await current.exited;
      // Ctrl-C in a terminal reaches the servers and the launcher together: give the launcher's
      // signal handler the time to mark the stop before calling this exit a death.
      await sleep(1000);
      if (o.stopping()) return;
      const died = `${name} (pid ${current.pid}) died (${how})`;
      if (o.backoff) {
        const b = o.backoff;
        delay = delay === 0 || Date.now() - since >= b.resetAfterMs ? b.firstMs : Math.min(b.maxMs, delay * 2);
        o.say(`${died}: restarting it in ${delay / 1000} s; its log: ${current.logFile}`);
        for (;;) {
          await sleep(delay);
          if (o.stopping()) return;
          try {
            current = await o.restart();
            break;
          } catch (err) {
            if (o.stopping()) return;
            delay = Math.min(b.maxMs, delay * 2);
            o.say(`${name} did not start again (${(err as Error).message.split('\n')[0]}): trying again in ${delay / 1000} s; its log: ${current.logFile}`);
          }
        }
      } else {
        const now = Date.now();
        const recent = restarts.filter((t) => now - t < windowMs);
        if (recent.length >= limit) {
          o.giveUp(`${died}, after ${limit} restarts in ${windowMs / 60_000} minutes: stopped everything; its log: ${current.logFile}`);
          return;
        }
        restarts.splice(0, restarts.length, ...recent, now);
        o.say(`${died}: restarting it (${recent.length + 1} of ${limit} in ${windowMs / 60_000} minutes); its log: ${current.logFile}`);
        try {
          current = await o.restart();
        } catch (err) {
          o.giveUp(`${died} and did not start again: ${(err as Error).message.split('\n')[0]}; stopped everything; its log: ${current.logFile}`);
          return;
        }
      }
      // A Ctrl-C during the restart: the launcher's clean-up may have stopped the old one only.
      if (o.stopping()) return void (await current.stop());
      since = Date.now();
      o.restarted?.(current);
      o.say(`${name}: running again (pid ${current.pid})`);
    }
  })();
  return { current: () => current };
}
