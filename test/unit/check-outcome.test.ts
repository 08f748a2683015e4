// The pure parts of the Monitor's check outcomes: a reason stripped of what varies, what counts as
// no NIP-11 document, a refused write's code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentId, stableReason } from '../../activities/db/metadata.js';
import { noNip11, refusalCode } from '../../activities/monitor/check.js';

describe('check outcomes', () => {
  it('a reason keeps why and loses the relay, its host and timings: one document for a repeated failure', () => {
    const a = stableReason('no expected answer from wss://relay.example.com/ within 5000 ms', 'wss://relay.example.com/');
    assert.equal(a, 'no expected answer from <relay> within <n> ms');
    assert.equal(stableReason('wss://relay.example.com: cannot resolve relay.example.com (ENOTFOUND)', 'wss://relay.example.com/'), '<relay>: cannot resolve <host> (ENOTFOUND)');
    assert.equal(stableReason('body is not JSON (1234 bytes): Unexpected token', 'ws://x.example'), 'body is not JSON (<n> bytes): Unexpected token');
    const doc = (r: string) => contentId({ check: 'read', code: 'timeout', reason: stableReason(r, 'wss://a.example/') });
    assert.deepEqual(doc('no answer from wss://a.example/ within 700 ms'), doc('no answer from wss://a.example/ within 700.5 ms'));
    assert.ok(stableReason('x'.repeat(2000), 'wss://a.example/').length <= 500, 'bounded');
  });

  it('NIP-11 absent: 404, 410, a 200 that is not JSON; a 500, a timeout or JSON that is no object is a failure', () => {
    assert.equal(noNip11('http-status', 'HTTP 404 from http://a.example/, expected 200'), true);
    assert.equal(noNip11('http-status', 'HTTP 410 from http://a.example/, expected 200'), true);
    assert.equal(noNip11('content-type', 'content type text/html, expected application/nostr+json or application/json'), true);
    assert.equal(noNip11('not-json', 'body is not JSON (12 bytes)'), true);
    assert.equal(noNip11('http-status', 'HTTP 500 from http://a.example/, expected 200'), false);
    assert.equal(noNip11('http-status', 'HTTP 4040 from http://a.example/'), false);
    assert.equal(noNip11('timeout', 'no answer'), false);
    assert.equal(noNip11('not-an-object', 'a JSON array'), false);
  });

  it("a refused write's code is its NIP-01 prefix", () => {
    assert.equal(refusalCode('auth-required: sign in'), 'auth-required');
    assert.equal(refusalCode('blocked: you are banned'), 'blocked');
    assert.equal(refusalCode('rate-limited: slow down'), 'rate-limited');
    assert.equal(refusalCode('nope'), 'refused');
    assert.equal(refusalCode(undefined), 'refused');
  });
});
