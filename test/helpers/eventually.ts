/**
 * Polls until `check` holds, or fails naming what it awaited. `tick` passes the time between looks:
 * real time by default (a test that waits on no timer lets the test server skip none), or the test
 * server's where a workflow's timer must fire.
 */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 20_000, tick: () => Promise<unknown> = () => new Promise((r) => setTimeout(r, 100))): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting until ${what}`);
    await tick();
  }
}
