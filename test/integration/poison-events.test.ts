// Valid events PostgreSQL cannot hold as they are (issue 23): U+0000 or a lone surrogate in content
// or a tag, signed the common way (nostr-tools: JSON.stringify, \u0000) or over NIP-01's letter
// (control characters written as they are). Each is archived, never dropped, and the API serves it
// exactly as it was signed; a relay's CLOSED reason with NUL is recorded, not retried.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hash } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/curves/utils.js';
import { generateSecretKey } from 'nostr-tools/pure';
import { buildApi } from '../../api/server.js';
import { insertRelays, type NostrEvent } from '../../activities/db/store.js';
import { archiveEvents } from '../../activities/synchronizer/archive.js';
import { nip01EventId } from '../../activities/synchronizer/verify/index.js';
import { localRelayConfig } from '../helpers/config.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startHostileRelay, type HostileRelay } from '../helpers/hostile-relay.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { syncRange, testNetworkActivities } from '../helpers/sync.js';

const T = 1_650_000_000;
const sk = generateSecretKey();
const pubkey = bytesToHex(schnorr.getPublicKey(sk));

/** An event signed over NIP-01's serialisation to the letter (control characters written as they are). */
function signedNip01(created_at: number, content: string, tags: string[][] = []): NostrEvent {
  const e = { pubkey, created_at, kind: 1, tags, content, id: '', sig: '' };
  e.id = nip01EventId(e);
  e.sig = bytesToHex(schnorr.sign(Buffer.from(e.id, 'hex'), sk));
  return e;
}

const poison = [
  signed({ kind: 1, created_at: T + 1000, content: 'nul \u0000 in content (nostr-tools)' }),
  signedNip01(T + 1001, 'nul \u0000 in content (NIP-01 to the letter)'),
  signedNip01(T + 1002, 'nul in a tag (NIP-01 to the letter)', [['t', 'a\u0000b']]),
  signed({ kind: 1, created_at: T + 1003, content: 'lone surrogate \ud800 here', tags: [['t', 'x\udc00']] }),
];
const plain = Array.from({ length: 300 }, (_, i) => signed({ kind: 1, created_at: T + i, content: `plain ${i}` }));

let t: TestDatabase;
let relay: LocalRelay;
let closer: HostileRelay;

before(async () => {
  t = await freshDatabase();
  relay = await startLocalRelay({ events: [...plain, ...poison] });
  closer = await startHostileRelay({ closedReason: 'restricted: n\u0000pe \ud800' });
  await insertRelays(t.db, [relay.url, closer.url].map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
});
after(async () => {
  await relay?.stop();
  await closer?.stop();
  await t?.drop();
});

describe('events with NUL or a lone surrogate', () => {
  it('the two serialisations differ for them: the NIP-01 ones are not JSON.stringify\'s hash', () => {
    const e = poison[1]!;
    assert.notEqual(hash('sha256', JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content])), e.id);
  });

  it('a relay holding 300 plain events and 4 such: all 304 archived, none refused', async () => {
    const r = await syncRange(testNetworkActivities(t), relay.url, T, T + 2000, 500);
    assert.deepEqual(r.invalid, {});
    assert.equal(r.inserted, 304);
    assert.equal(await count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1', [relay.url]), 304);
  });

  it('the API serves each exactly as it was signed', async () => {
    const api = await buildApi({ config: localRelayConfig(t.url), db: t.db });
    try {
      const res = await api.inject({ url: `/v1/events?ids=${poison.map((e) => e.id).join(',')}` });
      assert.equal(res.statusCode, 200, res.body);
      const items = (JSON.parse(res.body) as { items: NostrEvent[] }).items;
      const byId = new Map(items.map((e) => [e.id, e]));
      const plainCopy = (e: NostrEvent) => JSON.parse(JSON.stringify(e)) as NostrEvent; // JSON.parse gives back every character
      for (const e of poison) assert.deepEqual(byId.get(e.id), plainCopy(e), e.content);
      const one = JSON.parse((await api.inject({ url: `/v1/events/${poison[2]!.id}` })).body) as { event: NostrEvent };
      assert.deepEqual(one.event, plainCopy(poison[2]!));
    } finally {
      await api.close();
    }
  });

  it('searchable text keeps U+FFFD in their place', async () => {
    const { rows } = await t.db.query<{ content: string }>('SELECT content FROM event WHERE id = $1', [Buffer.from(poison[0]!.id, 'hex')]);
    assert.equal(rows[0]!.content, 'nul \uFFFD in content (nostr-tools)');
  });

  it('an event dated in the future or before 1970 is refused with its reason', async () => {
    const future = signed({ kind: 1, created_at: Math.floor(Date.now() / 1000) + 10 * 365 * 86400, content: 'from the future' });
    const negative = signedNip01(-5, 'before 1970');
    const r = await archiveEvents(t.db, relay.url, [future, negative], 1);
    assert.deepEqual(r.invalid, { 'created-in-future': 1, 'bad-created-at': 1 });
  });

  it('a CLOSED reason with NUL and a lone surrogate is the relay refusing, recorded once', async () => {
    const r = await syncRange(testNetworkActivities(t), closer.url, T, T + 10, 500);
    assert.match(r.refused ?? '', /restricted: n\uFFFDpe/);
    const { rows } = await t.db.query<{ reason: string }>('SELECT reason FROM sync_refusal WHERE relay_url = $1', [closer.url]);
    assert.match(rows[0]!.reason, /restricted: n\uFFFDpe \uFFFD/);
  });
});
