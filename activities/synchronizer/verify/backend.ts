// The check of one event, on whichever thread calls it: its id must be the sha256 of its NIP-01
// serialisation, its signature a valid BIP-340 signature of that id by its pubkey. The signature
// is checked by native libsecp256k1 (the optional dependency bcrypto, compiled at install) when it
// loads and passes a self-test, else by libsecp256k1 in WebAssembly (nostr-wasm). Per core here,
// hash and signature together: native ~15,000 events/s, wasm ~2,700/s, pure JS ~580/s.
import { hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/curves/utils.js';
import type { NostrEvent } from '../../db/store.js';

/** One event's verdict; numbers, so a batch's verdicts travel between threads as one Uint8Array. */
export const OK = 0;
export const ID_MISMATCH = 1;
export const BAD_SIGNATURE = 2;
export type Verdict = typeof OK | typeof ID_MISMATCH | typeof BAD_SIGNATURE;
export const VERDICT_REASONS = ['ok', 'id-mismatch', 'bad-signature'] as const;

export type BackendName = 'native' | 'wasm';

export interface Backend {
  name: BackendName;
  /** What is in use, for the log: the library and, for native, why not when it is not. */
  description: string;
  check(e: NostrEvent): Verdict;
}

/**
 * The id as nostr-tools, rust-nostr and strfry compute it, in hex: sha256 of
 * `JSON.stringify([0,pubkey,created_at,kind,tags,content])` by node's OpenSSL (~10x noble's JS
 * sha256), in one call: 4.6 µs for a 1.4 kB event where a Hash object took 5.7, of which 3.1 is
 * the serialisation.
 */
export function eventId(e: NostrEvent): string {
  return hash('sha256', JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content]));
}

// A control character JSON escapes as \u00XX (not one of the short forms), or an escaped backslash.
const U_ESCAPE = /\\(\\|u00[01][0-9a-f])/g;

/**
 * The id over NIP-01's serialisation taken to the letter: only \n \" \\ \r \t \b \f are
 * escaped, every other character is written as it is (so U+0000 is one zero byte, where
 * JSON.stringify writes \u0000). The two agree but for those control characters.
 */
export function nip01EventId(e: NostrEvent): string {
  const json = JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content]);
  return hash('sha256', json.replace(U_ESCAPE, (m, x: string) => (x === '\\' ? m : String.fromCharCode(parseInt(x.slice(1), 16)))));
}

/** Which serialisation the event's id is the hash of ('json' the common one), or undefined: neither. */
export function idForm(e: NostrEvent): 'json' | 'nip01' | undefined {
  if (eventId(e) === e.id) return 'json';
  // Only an event holding such a character has a second form: the others need no second hash.
  const hasOne = CONTROL.test(e.content) || e.tags.some((t) => t.some((v) => CONTROL.test(v)));
  return hasOne && nip01EventId(e) === e.id ? 'nip01' : undefined;
}
/** The characters the two serialisations write differently. */
const CONTROL = /[\u0000-\u0007\u000b\u000e-\u001f]/;

interface NativeSchnorr {
  verify(msg: Buffer, sig: Buffer, key: Buffer): boolean;
}

/** bcrypto's schnorr over its compiled addon (libsecp256k1 inside). */
export const NATIVE_MODULE = 'bcrypto/lib/native/schnorr';

function nativeBackend(module: string): Backend {
  // bcrypto is CommonJS; its native/ path never falls back to its own (slow) JS code: it loads
  // the compiled addon or throws, which is what tells us the addon is not there.
  const schnorr = createRequire(import.meta.url)(module) as NativeSchnorr;
  return {
    name: 'native',
    description: 'native libsecp256k1 (bcrypto)',
    check(e) {
      if (!idForm(e)) return ID_MISMATCH;
      return schnorr.verify(Buffer.from(e.id, 'hex'), Buffer.from(e.sig, 'hex'), Buffer.from(e.pubkey, 'hex')) ? OK : BAD_SIGNATURE;
    },
  };
}

async function wasmBackend(why: string): Promise<Backend> {
  // Loaded only when needed: a process on native never holds the wasm module.
  const { initNostrWasm } = await import('nostr-wasm');
  const nostr = await initNostrWasm();
  return {
    name: 'wasm',
    description: `libsecp256k1 in WebAssembly (nostr-wasm)${why ? `; native not used: ${why}` : ''}`,
    check(e) {
      // The id first, by node's sha256, so that a failure says which check failed; nostr-wasm
      // hashes again (its API checks id and signature together), a cost of the fallback only.
      const form = idForm(e);
      if (!form) return ID_MISMATCH;
      try {
        // nostr-wasm hashes the event itself, the common way: an id over NIP-01's letter is
        // checked by noble's schnorr against the id (rare: events with control characters).
        if (form === 'nip01') return schnorr.verify(hexToBytes(e.sig), hexToBytes(e.id), hexToBytes(e.pubkey)) ? OK : BAD_SIGNATURE;
        nostr.verifyEvent(e);
        return OK;
      } catch {
        return BAD_SIGNATURE; // an invalid signature, or a pubkey that is not on the curve
      }
    },
  };
}

// A real signed event: a verifier must accept it and refuse it with one bit of its signature or
// of its content changed, or it is not used (a native build that misbehaves falls back to wasm).
const SELF_TEST: NostrEvent = {
  id: '87c2d929813cbd73af0244265cf212535e6e75af3be7e468e83a5b265fe3f438',
  pubkey: '53f4f4ac1641dfe23a1289519ab6a0be3bfe0c9e1ebaba8f309cafe6fdcba373',
  created_at: 1700000000,
  kind: 1,
  tags: [['t', 'bigbrotr']],
  content: 'verifier self-test',
  sig: '6e3a98b418528051a2f4b76f1ae06ee8dfdcbf273afadad47bf19058af48866d77a35606316f3db4623d5982387b280f2f65c3dc6ca854ddee0f553c719c6c47',
};

export function selfTestProblem(b: Backend): string | undefined {
  const badSig = { ...SELF_TEST, sig: `${SELF_TEST.sig.slice(0, 127)}${SELF_TEST.sig.endsWith('7') ? '6' : '7'}` };
  const badId = { ...SELF_TEST, content: `${SELF_TEST.content}!` };
  if (b.check(SELF_TEST) !== OK) return 'refuses a valid event';
  if (b.check(badSig) !== BAD_SIGNATURE) return 'accepts a bad signature';
  if (b.check(badId) !== ID_MISMATCH) return 'accepts a bad id';
  return undefined;
}

/**
 * The fastest verifier that loads and passes the self-test. `prefer: 'wasm'` skips native
 * (BIGBROTR_VERIFIER=wasm does the same for a whole process); `nativeModule` is for tests of the
 * fallback.
 */
export async function loadBackend(opts: { prefer?: BackendName; nativeModule?: string } = {}): Promise<Backend> {
  const prefer = opts.prefer ?? (process.env.BIGBROTR_VERIFIER === 'wasm' ? 'wasm' : 'native');
  let why = 'wasm was asked for';
  if (prefer === 'native') {
    try {
      const native = nativeBackend(opts.nativeModule ?? NATIVE_MODULE);
      const problem = selfTestProblem(native);
      if (!problem) return native;
      why = `its self-test failed: it ${problem}`;
    } catch (err) {
      why = `the optional dependency bcrypto did not load (${(err as Error).message.split('\n')[0]})`;
    }
  }
  const wasm = await wasmBackend(why);
  const problem = selfTestProblem(wasm);
  if (problem) throw new Error(`the wasm verifier ${problem}: no event can be verified`);
  return wasm;
}
