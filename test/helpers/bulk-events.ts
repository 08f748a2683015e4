// Many signed Nostr events, fast, for tests and benchmarks that need tens or hundreds of thousands
// (a sync over several relays, a disk comparison). nostr-tools signs at ~3 ms an event in pure JS
// and ~0.5 ms with nostr-wasm here: 50,000 events would cost half a minute or more. Each BIP-340
// signature costs one fixed-base multiplication (R = k·G) and finalizeEvent adds another for the
// public key. Here keys and nonces follow counters instead: key j is d0 + j and the i-th nonce is
// k0 + i, so the next public key and the next R are each one point addition (P + G) away (~50 µs
// in bigint arithmetic with one inversion). Counter nonces expose the keys of anyone who sees two
// signatures — harmless for throwaway test keys, never for real ones. The signatures are genuine
// BIP-340 signatures: libsecp256k1 (nostr-wasm), which the archive uses, checks them.
import { createHash, randomBytes } from 'node:crypto';
import type { NostrEvent } from '../../activities/db/store.js';

/** secp256k1's field prime and group order, and its generator (SEC 2). */
const P = 2n ** 256n - 2n ** 32n - 977n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const G: Point = {
  x: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
  y: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
};

interface Point {
  x: bigint;
  y: bigint;
}

const mod = (a: bigint, m = P) => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

/** a⁻¹ mod P (extended Euclid: ~40 µs, about a hundred times a multiplication). */
function inverse(a: bigint): bigint {
  let [r0, r1] = [P, mod(a)];
  let [t0, t1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0);
}

/** a + b in affine coordinates; neither is the point at infinity (random scalars never meet it). */
function add(a: Point, b: Point): Point {
  if (a.x === b.x && a.y !== b.y) throw new Error('P + (-P): a random scalar landed on the point at infinity');
  const lambda = a.x === b.x ? mod(3n * a.x * a.x * inverse(2n * a.y)) : mod((b.y - a.y) * inverse(b.x - a.x));
  const x = mod(lambda * lambda - a.x - b.x);
  return { x, y: mod(lambda * (a.x - x) - a.y) };
}

/** k·G by double-and-add: ~30 ms, paid twice per signer. */
function timesG(k: bigint): Point {
  let result: Point | undefined;
  let addend = G;
  for (let bits = k; bits > 0n; bits >>= 1n) {
    if (bits & 1n) result = result ? add(result, addend) : addend;
    addend = add(addend, addend);
  }
  if (!result) throw new Error('k = 0');
  return result;
}

const hex32 = (v: bigint) => v.toString(16).padStart(64, '0');
const randomScalar = () => mod(BigInt(`0x${randomBytes(32).toString('hex')}`), N - 1n) + 1n;
const CHALLENGE_TAG = createHash('sha256').update('BIP0340/challenge').digest();

export interface Template {
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
}

export class BulkSigner {
  /** x-only public keys, hex: the authors events are signed by. */
  readonly pubkeys: string[] = [];
  /** Each key's secret, already negated where its point has an odd y (BIP-340 signs with the even-y key). */
  private readonly secrets: bigint[] = [];
  private nonce: bigint;
  private nonceR: Point;

  constructor(authors: number) {
    let d = randomScalar();
    let point = timesG(d);
    for (let j = 0; j < authors; j++) {
      this.secrets.push(point.y & 1n ? N - d : d);
      this.pubkeys.push(hex32(point.x));
      d = mod(d + 1n, N);
      point = add(point, G);
    }
    this.nonce = randomScalar();
    this.nonceR = timesG(this.nonce);
  }

  /** The template signed by author `author` (an index into `pubkeys`). */
  sign(t: Template, author: number): NostrEvent {
    const pubkey = this.pubkeys[author];
    const d = this.secrets[author];
    if (pubkey === undefined || d === undefined) throw new Error(`no author ${author} (there are ${this.pubkeys.length})`);
    // NIP-01: the id is the sha256 of this exact JSON serialisation.
    const id = createHash('sha256').update(JSON.stringify([0, pubkey, t.created_at, t.kind, t.tags, t.content])).digest();
    const R = this.nonceR;
    const k = R.y & 1n ? N - this.nonce : this.nonce; // BIP-340: R is used with an even y
    const rx = Buffer.from(hex32(R.x), 'hex');
    const e = mod(BigInt(`0x${createHash('sha256').update(CHALLENGE_TAG).update(CHALLENGE_TAG).update(rx).update(Buffer.from(pubkey, 'hex')).update(id).digest('hex')}`), N);
    const s = mod(k + e * d, N);
    this.nonce = mod(this.nonce + 1n, N);
    this.nonceR = add(R, G);
    return { id: id.toString('hex'), pubkey, created_at: t.created_at, kind: t.kind, tags: t.tags, content: t.content, sig: rx.toString('hex') + hex32(s) };
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same traffic on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the a to and of is in it you that for on this just gm nostr bitcoin relay zap time good people ' +
  'think know like really now today new will can with about what have not be one more so some ' +
  'there was my your all do but if out up no get make see why how our world freedom value build ' +
  'code open protocol client note follow post thread love coffee morning 🤙 ⚡ 🫂 😂 lol ngl tbh'
).split(' ');
const REACTIONS = ['+', '+', '+', '🤙', '⚡', '❤️', '😂', '🫂', '-'];

/**
 * A template shaped like public Nostr traffic: 78% kind 1 notes (100–300 characters of words, 0–3
 * e tags and 1–3 p tags, a third of the e tags with a relay hint), 19% kind 7 reactions (an
 * emoji or "+", one e and one p tag), 3% kind 3 contact lists (20–600 p tags, a quarter with a
 * relay hint). Tag values are hex ids and keys of other events and authors.
 */
export function trafficTemplate(rand: () => number, createdAt: number, pubkeys: string[]): Template {
  const hex = () => randomHex(rand);
  const someone = () => pubkeys[Math.floor(rand() * pubkeys.length)] ?? hex();
  const roll = rand();
  if (roll < 0.03) {
    const follows = 20 + Math.floor(rand() * 580);
    const tags = Array.from({ length: follows }, () => (rand() < 0.25 ? ['p', someone(), `wss://relay${Math.floor(rand() * 300)}.example.com`] : ['p', someone()]));
    return { created_at: createdAt, kind: 3, tags, content: '' };
  }
  if (roll < 0.22) {
    return { created_at: createdAt, kind: 7, tags: [['e', hex()], ['p', someone()]], content: REACTIONS[Math.floor(rand() * REACTIONS.length)]! };
  }
  const length = 100 + Math.floor(rand() * 200);
  let content = '';
  while (content.length < length) content += (content ? ' ' : '') + WORDS[Math.floor(rand() * WORDS.length)];
  const tags: string[][] = [];
  for (let i = Math.floor(rand() * 4); i > 0; i--) tags.push(['e', hex(), rand() < 0.33 ? `wss://relay${Math.floor(rand() * 300)}.example.com` : '', i === 1 ? 'reply' : 'root']);
  for (let i = 1 + Math.floor(rand() * 3); i > 0; i--) tags.push(['p', someone()]);
  return { created_at: createdAt, kind: 1, tags, content };
}

/** 32 bytes of hex from `rand`: ids and keys of events that are not in the set. */
export function randomHex(rand: () => number): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0');
  return s;
}
