// Watches one of the launcher's servers: when it dies while the stack runs, says so and starts it
// again, at most `limit` times in `windowMs`; past that (or when it will not start), hands one
// line, which server died and where its log is, to `giveUp`, and the launcher stops everything.
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
  },
): Supervision<T> {
  const limit = o.limit ?? 3;
  const windowMs = o.windowMs ?? 5 * 60_000;
  const restarts: number[] = [];
  let current = first;
  void (async () => {
    for (;;) {
      const how = await current.exited;
      // Ctrl-C in a terminal reaches the servers and the launcher together: give the launcher's
      // signal handler the time to mark the stop before calling this exit a death.
      await new Promise((r) => setTimeout(r, 1000));
      if (o.stopping()) return;
      const died = `${name} (pid ${current.pid}) died (${how})`;
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
      // A Ctrl-C during the restart: the launcher's clean-up may have stopped the old one only.
      if (o.stopping()) return void (await current.stop());
      o.restarted?.(current);
      o.say(`${name}: running again (pid ${current.pid})`);
    }
  })();
  return { current: () => current };
}
