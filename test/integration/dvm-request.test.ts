// How the DVM reads a job request and bounds its answer (activities/dvm/request.ts): pure, no
// sockets; the DVM end to end is test/workflow/dvm.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from 'nostr-tools/pure';
import { eventBytes, itemsThatFit, judge, MAX_EVENT_BYTES, parseRequest, resultEvent, safeVerify } from '../../activities/dvm/request.js';

const user = generateSecretKey();
const dvmPubkey = getPublicKey(generateSecretKey());
const req = (tags: string[][], kind = 5050): Event => finalizeEvent({ kind, created_at: 1_700_000_000, content: '', tags }, user);
const resources = ['relays', 'events'];
const verdict = (ev: Event) => judge(ev, { kind: 5050, pubkey: dvmPubkey, resources, verify: safeVerify });

describe('DVM requests', () => {
  it('reads the resource from the i tag or a resource param, and params (a repeated name: a list)', () => {
    assert.deepEqual(parseRequest(req([['i', 'events', 'text'], ['param', 'kind', '1'], ['param', 'ids', 'a'], ['param', 'ids', 'b'], ['relays', 'wss://x.example']])), {
      ok: true,
      request: { resource: 'events', params: { kind: '1', ids: ['a', 'b'] }, relays: ['wss://x.example'] },
    });
    assert.equal((parseRequest(req([['param', 'resource', 'relays']])) as { request: { resource: string } }).request.resource, 'relays');
  });

  it('says what is wrong with a request', () => {
    const reason = (tags: string[][]) => (parseRequest(req(tags)) as { reason: string }).reason;
    assert.match(reason([]), /no resource/);
    assert.match(reason([['i', 'https://x.example', 'url']]), /input type must be "text"/);
    assert.match(reason([['i', 'relays', 'text'], ['param', 'resource', 'events']]), /one resource per request/);
    assert.match(reason([['i', 'relays', 'text'], ['param', 'limit']]), /needs a name and a value/);
  });

  it('answers requests addressed to it, and to no one only when they name a resource of ours', () => {
    assert.deepEqual(verdict(req([['i', 'relayz', 'text'], ['p', dvmPubkey]])), { answer: true }, 'addressed to it: even an error is answered');
    assert.deepEqual(verdict(req([['i', 'relays', 'text']])), { answer: true });
    assert.equal((verdict(req([['i', 'write me a poem', 'text']])) as { why: string }).why, 'ignored');
    assert.equal((verdict(req([['i', 'relays', 'text'], ['p', getPublicKey(generateSecretKey())]])) as { why: string }).why, 'ignored');
    assert.equal((verdict(req([['i', 'relays', 'text']], 5051)) as { why: string }).why, 'invalid');
    // As a relay hands it over (JSON): nostr-tools' finalizeEvent marks its own events as verified.
    const forged = { ...JSON.parse(JSON.stringify(req([['i', 'relays', 'text']]))), content: 'changed' } as Event;
    assert.equal((verdict(forged) as { why: string }).why, 'invalid');
  });

  it('cuts a page to what fits in one event, its cursor counted', () => {
    const request = req([['i', 'events', 'text']]);
    const items = Array.from({ length: 50 }, (_, i) => ({ i, content: `"quoted" ${'x'.repeat(2000)}` }));
    const n = itemsThatFit(request, 'wss://r.example', items, 1_700_000_000);
    assert.ok(n > 0 && n < 50, `${n} items`);
    const fits = (k: number) => eventBytes(resultEvent(request, 'wss://r.example', JSON.stringify({ items: items.slice(0, k), next: 'x'.repeat(1024) }), 1)) <= MAX_EVENT_BYTES;
    assert.ok(fits(n), 'n items fit');
    assert.ok(!fits(n + 1), 'one more does not');
  });
});
