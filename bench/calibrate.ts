// How fast this machine is, in the unit the Synchronizer's figures depend on: events checked
// (NIP-01 id and schnorr signature) per second on one core by the native verifier. Machines of
// the same kind differ (the issue measured 21,500/s; sessions here have read 12,800 to 16,500),
// so a bench prints this beside its rates, read with the machine otherwise idle.
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { loadBackend } from '../activities/synchronizer/verify/backend.js';

/** Events verified per second on this thread; undefined when the native verifier is not installed. */
export async function nativeVerifyRate(): Promise<number | undefined> {
  const backend = await loadBackend({ prefer: 'native' });
  if (backend.name !== 'native') return undefined;
  const sk = generateSecretKey();
  const events = Array.from({ length: 500 }, (_, i) => finalizeEvent({ kind: 1, created_at: 1_700_000_000 + i, tags: [['t', 'bench']], content: `calibration ${i} `.repeat(12) }, sk));
  for (const e of events) backend.check(e); // warm up
  let checked = 0;
  const started = performance.now();
  while (performance.now() - started < 2000) {
    for (const e of events) backend.check(e);
    checked += events.length;
  }
  return Math.round(checked / ((performance.now() - started) / 1000));
}
