// The archive's verifier, both ways it can run: native libsecp256k1 (the optional dependency
// bcrypto) and the wasm fallback, on the calling thread and on a pool of worker threads. Each must
// accept real signed events and refuse a bad signature, a bad id (the NIP-01 hash), another
// event's id, and a pubkey that is not on the curve, naming which check failed.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import { getEventHash } from 'nostr-tools/pure';
import { BAD_SIGNATURE, ID_MISMATCH, loadBackend, NATIVE_MODULE, OK, type Backend, type BackendName } from '../../activities/synchronizer/verify/backend.js';
import { createVerifier, type Verifier } from '../../activities/synchronizer/verify/index.js';
import type { NostrEvent } from '../../activities/db/store.js';
import { signed } from '../helpers/nostr.js';

const nativeInstalled = (() => {
  try {
    createRequire(import.meta.url)(NATIVE_MODULE);
    return true;
  } catch {
    return false;
  }
})();

const flip = (hex: string, at: number) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
const good = [
  signed({ kind: 1, content: 'plain note', created_at: 1_700_000_001 }),
  // What NIP-01 escapes and what it leaves: quotes, backslashes, newlines, control characters, emoji.
  signed({ kind: 1, content: 'quote " backslash \\ newline \n tab \t bell \u0007 emoji 🤙 accents é', created_at: 1_700_000_002 }),
  signed({ kind: 7, content: '+', tags: [['e', 'a'.repeat(64), 'wss://relay.example'], ['p', 'b'.repeat(64)]], created_at: 1_700_000_003 }),
];
const base = signed({ kind: 1, content: 'to be forged', created_at: 1_700_000_004 });
/** Each bad event, with the verdict it must get. */
const bad: Array<[string, NostrEvent, number]> = [
  ['a signature with one bit changed', { ...base, sig: flip(base.sig, 100) }, BAD_SIGNATURE],
  ['the signature of another event', { ...base, sig: good[0]!.sig }, BAD_SIGNATURE],
  ['content changed after signing', { ...base, content: 'tampered' }, ID_MISMATCH],
  ['created_at changed after signing', { ...base, created_at: base.created_at + 1 }, ID_MISMATCH],
  ["another event's id and signature", { ...base, id: good[0]!.id, sig: good[0]!.sig }, ID_MISMATCH],
  ['pubkey changed after signing', { ...base, pubkey: 'f'.repeat(64) }, ID_MISMATCH],
];

function checksEvents(name: string, get: () => Promise<Backend>) {
  it(`${name}: accepts signed events and refuses each forgery with its reason`, async () => {
    const b = await get();
    for (const e of good) {
      assert.equal(getEventHash(e), e.id, 'nostr-tools agrees on the id');
      assert.equal(b.check(e), OK, e.content);
    }
    for (const [what, e, verdict] of bad) assert.equal(b.check(e), verdict, what);
  });
}

describe('event verifier backends', () => {
  it('native is used when bcrypto is installed', async (t) => {
    if (!nativeInstalled) return t.skip('bcrypto is not installed here (its build needs python3, make and a C compiler): wasm is used');
    assert.equal((await loadBackend()).name, 'native');
  });
  checksEvents('native', async () => {
    const b = await loadBackend({ prefer: 'native' });
    if (nativeInstalled) assert.equal(b.name, 'native');
    return b;
  });
  checksEvents('wasm', async () => {
    const b = await loadBackend({ prefer: 'wasm' });
    assert.equal(b.name, 'wasm');
    return b;
  });

  it('falls back to wasm when the native module does not load, and says why', async () => {
    const b = await loadBackend({ prefer: 'native', nativeModule: 'bcrypto/lib/native/no-such-module' });
    assert.equal(b.name, 'wasm');
    assert.match(b.description, /native not used: the optional dependency bcrypto did not load/);
    assert.equal(b.check(good[0]!), OK);
    assert.equal(b.check(bad[0]![1]), BAD_SIGNATURE);
  });

  it('the pubkey that is not on the curve, with an id that matches, is a bad signature', async () => {
    // Its id must be its own hash for the signature check to be what refuses it.
    const offCurve = { ...base, pubkey: 'f'.repeat(64) };
    const e = { ...offCurve, id: getEventHash(offCurve) };
    for (const prefer of ['native', 'wasm'] as BackendName[]) assert.equal((await loadBackend({ prefer })).check(e), BAD_SIGNATURE, prefer);
  });
});

describe('event verifier on threads', () => {
  const verifiers: Verifier[] = [];
  after(() => Promise.all(verifiers.map((v) => v.close())));

  // A batch big enough to be cut into chunks across the threads, forgeries spread through it.
  const batch: NostrEvent[] = [];
  const expected: number[] = [];
  for (let i = 0; i < 400; i++) {
    if (i % 37 === 5) {
      const [, e, verdict] = bad[i % bad.length]!;
      batch.push(e);
      expected.push(verdict);
    } else {
      batch.push(signed({ kind: 1, content: `note ${i}`, created_at: 1_700_000_000 + i }));
      expected.push(OK);
    }
  }

  for (const [threads, prefer] of [[0, 'native'], [2, 'native'], [0, 'wasm'], [2, 'wasm']] as Array<[number, BackendName]>) {
    it(`${prefer} on ${threads || 'the calling'} thread(s): one verdict per event, in order`, async () => {
      const v = await createVerifier({ threads, prefer });
      verifiers.push(v);
      if (prefer === 'wasm' || nativeInstalled) assert.match(v.description, prefer === 'wasm' ? /WebAssembly/ : /native/);
      assert.deepEqual([...(await v.check(batch))], expected);
      assert.deepEqual([...(await v.check([]))], []);
    });
  }

  it('a closed pool refuses work instead of hanging', async () => {
    const v = await createVerifier({ threads: 1 });
    await v.close();
    await assert.rejects(v.check(batch.slice(0, 100)), /closed/);
  });
});
