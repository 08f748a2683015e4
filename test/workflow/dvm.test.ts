// The NIP-90 DVM end to end: its workflow (`dvm`) on the time-skipping test server with the
// worker's real activities, two local relays over real sockets, and the read core over a real
// PostgreSQL whose analytics were refreshed. A client publishes job requests as any client would;
// what the relays then hold is the DVM's answer.
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from 'nostr-tools/pure';
import { bytesToHex } from 'nostr-tools/utils';
import { insertEvents, insertRelays } from '../../activities/db/store.js';
import type { Db } from '../../activities/db/db.js';
import { refreshAll } from '../../activities/refresher/refresher.js';
import { openRelay } from '../../activities/relay/relay-socket.js';
import { MAX_EVENT_BYTES } from '../../activities/dvm/request.js';
import type { DvmJobSummary, DvmStatus } from '../../common/dvm.js';
import { createActivities } from '../../workers/activities.js';
import { dvm, dvmStatus } from '../../workflows/index.js';
import { localRelayConfig } from '../helpers/config.js';
import type { TestDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/eventually.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { cancelAllAndWait, withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));

const dvmKey = generateSecretKey();
const dvmPubkey = getPublicKey(dvmKey);
const userKey = generateSecretKey();
const taskQueue = 'dvm';
let a: LocalRelay;
let b: LocalRelay;


/** A request as a client makes it: kind 5050, signed by the user, created now. */
function request(tags: string[][]): Event {
  return finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), content: '', tags }, userKey);
}

async function publish(relay: LocalRelay, ev: Event): Promise<void> {
  const conn = await openRelay(relay.url, { timeoutMs: 2000 });
  try {
    conn.send(['EVENT', ev]);
    const ok = await conn.next((m) => (m[0] === 'OK' && m[1] === ev.id ? m : undefined), 2000);
    assert.equal(ok[2], true, String(ok[3]));
  } finally {
    conn.close();
  }
}

/** The DVM's answers (results and feedback) to a request that a relay holds. */
const answers = (relay: LocalRelay, req: Event, kind: number) =>
  relay.events.filter((e) => e.kind === kind && e.pubkey === dvmPubkey && e.tags.some((tag) => tag[0] === 'e' && tag[1] === req.id));

/** Runs the DVM's workflow with a worker over the real activities, counting the jobs' answers by request id. */
async function withDvm(body: (answered: Map<string, number>) => Promise<void>, round = '3s', relays = [a.url, b.url]): Promise<void> {
  const config = localRelayConfig(t.url, {
    BIGBROTR__dvm__enabled: 'true',
    BIGBROTR__dvm__private_key: bytesToHex(dvmKey),
    BIGBROTR__dvm__relays: JSON.stringify(relays),
  });
  const activities = createActivities({ db: t.db, config });
  const answered = new Map<string, number>();
  const { answerDvmJob } = activities;
  activities.answerDvmJob = async (q) => {
    answered.set(q.id, (answered.get(q.id) ?? 0) + 1);
    return answerDvmJob(q);
  };
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  await worker.runUntil(async () => {
    const reqsBefore = [a.reqs.length, b.reqs.length];
    await env.client.workflow.start(dvm, { taskQueue, workflowId: 'dvm', args: [{ round }] });
    // Both listeners subscribed to the job kind (a relay behind a proxy is relay a).
    const listened = [a, b].slice(0, relays.length);
    await eventually('both relays have the DVM subscription', () =>
      listened.every((r, i) => r.reqs.slice(reqsBefore[i]).some((fs) => fs.some((f) => Array.isArray(f.kinds) && f.kinds.includes(5050)))));
    try {
      await body(answered);
    } finally {
      await cancelAllAndWait(env, ['dvm']);
    }
  });
}

describe('NIP-90 DVM', () => {
  // (inside the describe: after the file's environment and database are made)
  before(async () => {
    [a, b] = await Promise.all([startLocalRelay(), startLocalRelay()]);
    // What the archive holds: three relays and, for the size bound, 40 events of 4 kB each.
    const relays = ['wss://alpha.example', 'wss://bravo.example', 'wss://charlie.example'];
    await insertRelays(t.db, relays.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1_700_000_000 })));
    const bulky = Array.from({ length: 40 }, (_, i) => signed({ kind: 1, created_at: 1_700_000_000 + i, content: `${i} ${'x'.repeat(4000)}` }));
    await insertEvents(t.db, bulky);
    await refreshAll(t.db, 'bigbrotr');
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('announces itself (NIP-89) and answers a request with one page, then the next page by its cursor', async () => {
    await withDvm(async (answered) => {
      for (const relay of [a, b]) {
        const ann = relay.events.filter((e) => e.kind === 31990 && e.pubkey === dvmPubkey);
        assert.equal(ann.length, 1, 'one handler announcement on each relay');
        assert.ok(ann[0]!.tags.some((tag) => tag[0] === 'k' && tag[1] === '5050'), 'k tag = the job kind');
        assert.equal(JSON.parse(ann[0]!.content).name, 'BigBrotr');
      }

      const first = request([['i', 'relays', 'text'], ['param', 'limit', '2'], ['p', dvmPubkey]]);
      await publish(a, first);
      await eventually('the result is on both relays', () => answers(a, first, 6050).length === 1 && answers(b, first, 6050).length === 1);
      const result = answers(a, first, 6050)[0]!;
      assert.equal(answers(b, first, 6050)[0]!.id, result.id, 'the same event on both');
      const page = JSON.parse(result.content) as { items: Array<{ url: string }>; next: string | null };
      assert.deepEqual(page.items.map((r) => r.url), ['wss://alpha.example', 'wss://bravo.example']);
      assert.ok(page.next, 'a next cursor: there is a third relay');
      // NIP-90's tags: the request stringified, e, p, and its i tag.
      const tag = (name: string) => result.tags.find((x) => x[0] === name);
      assert.equal(JSON.parse(tag('request')![1]!).id, first.id);
      assert.deepEqual(tag('e')!.slice(0, 2), ['e', first.id]);
      assert.deepEqual(tag('p'), ['p', getPublicKey(userKey)]);
      assert.deepEqual(tag('i'), ['i', 'relays', 'text']);

      const second = request([['i', 'relays', 'text'], ['param', 'limit', '2'], ['param', 'cursor', page.next!], ['p', dvmPubkey]]);
      await publish(b, second);
      await eventually('the second page', () => answers(b, second, 6050).length === 1);
      const rest = JSON.parse(answers(b, second, 6050)[0]!.content) as { items: Array<{ url: string }>; next: string | null };
      assert.deepEqual(rest.items.map((r) => r.url), ['wss://charlie.example']);
      assert.equal(rest.next, null);

      await new Promise((r) => setTimeout(r, 4000)); // a round later: both relays sent the requests again
      assert.equal(answers(a, first, 6050).length, 1);
      assert.equal(answered.get(first.id), 1, 'one job answered the first request');
      assert.equal(answered.get(second.id), 1);
      assert.equal(answers(a, first, 7000).length, 0, 'no error feedback');
    });
  });

  it('a request on both relays, and again after a restart, is answered once', async () => {
    const req = request([['i', 'relays', 'text'], ['param', 'limit', '1']]); // addressed to no one: still ours (a resource of ours)
    await withDvm(async (answered) => {
      await Promise.all([publish(a, req), publish(b, req)]);
      await eventually('the result', () => answers(a, req, 6050).length === 1 && answers(b, req, 6050).length === 1);
      await eventually('both relays brought it, one as a duplicate', async () => {
        const s: DvmStatus = await env.client.workflow.getHandle('dvm').query(dvmStatus);
        const relays = Object.values(s.relays);
        return relays.reduce((n, r) => n + r.counts.duplicates, 0) >= 1 && relays.reduce((n, r) => n + r.counts.started, 0) === 1;
      });
      assert.equal(answered.get(req.id), 1);
      assert.equal(JSON.parse(answers(a, req, 6050)[0]!.content).items.length, 1);
    });
    // A new start subscribes from a few minutes back: the request comes again, its job had closed.
    await withDvm(async (answered) => {
      await eventually('the restarted listeners saw it as a duplicate', async () => {
        const s: DvmStatus = await env.client.workflow.getHandle('dvm').query(dvmStatus);
        return Object.values(s.relays).reduce((n, r) => n + r.counts.duplicates, 0) >= 2;
      });
      assert.equal(answered.get(req.id), undefined, 'no second job');
      assert.equal(answers(a, req, 6050).length, 1);
    });
  });

  it('a bad request gets one kind 7000 error naming the problem; a request for another DVM none', async () => {
    await withDvm(async (answered) => {
      const unknown = request([['i', 'relayz', 'text'], ['p', dvmPubkey]]);
      const badParam = request([['i', 'relays', 'text'], ['param', 'colour', 'blue']]);
      const badLimit = request([['i', 'relays', 'text'], ['param', 'limit', '100000'], ['p', dvmPubkey]]);
      const encrypted = request([['encrypted'], ['p', dvmPubkey]]);
      const notOurs = request([['i', 'what is the meaning of life?', 'text']]); // a text-generation prompt
      const otherDvm = request([['i', 'relays', 'text'], ['p', getPublicKey(generateSecretKey())]]);
      for (const ev of [unknown, badParam, badLimit, encrypted, notOurs, otherDvm]) await publish(a, ev);
      await eventually('the four errors', () => [unknown, badParam, badLimit, encrypted].every((ev) => answers(a, ev, 7000).length === 1));
      const status = (ev: Event) => answers(a, ev, 7000)[0]!.tags.find((tag) => tag[0] === 'status')!;
      assert.equal(status(unknown)[1], 'error');
      assert.match(status(unknown)[2]!, /relayz/);
      assert.match(status(badParam)[2]!, /colour/);
      assert.match(status(badLimit)[2]!, /limit/);
      assert.match(status(encrypted)[2]!, /encrypted/);
      const fb = answers(a, unknown, 7000)[0]!;
      assert.deepEqual(fb.tags.find((tag) => tag[0] === 'p'), ['p', getPublicKey(userKey)]);
      assert.equal(answers(a, unknown, 6050).length, 0, 'no result for a bad request');
      await new Promise((r) => setTimeout(r, 4000));
      for (const ev of [notOurs, otherDvm]) {
        assert.equal(answered.get(ev.id), undefined);
        assert.equal(answers(a, ev, 7000).length + answers(a, ev, 6050).length, 0);
      }
      const s: DvmStatus = await env.client.workflow.getHandle('dvm').query(dvmStatus);
      assert.ok(Object.values(s.relays).reduce((n, r) => n + r.counts.ignored, 0) >= 2, `counted as ignored: ${JSON.stringify(s)}`);
    });
  });

  it('a page larger than an event may be is cut to fit, and says so with its cursor', async () => {
    await withDvm(async () => {
      const req = request([['i', 'events', 'text'], ['param', 'limit', '40'], ['param', 'kind', '1'], ['p', dvmPubkey]]);
      await publish(a, req);
      await eventually('the result', () => answers(a, req, 6050).length === 1);
      const result = answers(a, req, 6050)[0]!;
      const page = JSON.parse(result.content) as { items: Array<{ created_at: number }>; next: string | null };
      assert.ok(page.items.length > 0 && page.items.length < 40, `cut: ${page.items.length} items`);
      assert.ok(page.next, 'next says there is more');
      assert.ok(Buffer.byteLength(JSON.stringify(result)) <= MAX_EVENT_BYTES, 'the event is under the cap');
      // The cursor continues right after the last item sent.
      const next = request([['i', 'events', 'text'], ['param', 'limit', '1'], ['param', 'kind', '1'], ['param', 'cursor', page.next!], ['p', dvmPubkey]]);
      await publish(a, next);
      await eventually('the next page', () => answers(a, next, 6050).length === 1);
      const after = JSON.parse(answers(a, next, 6050)[0]!.content) as { items: Array<{ created_at: number }> };
      assert.equal(after.items[0]!.created_at, page.items.at(-1)!.created_at - 1);
    });
  });

  it('a relay that drops is listened to again, and what came meanwhile is answered', async () => {
    // A TCP proxy in front of relay a: destroying its sockets is the relay dropping the DVM.
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(a.port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      await withDvm(async (answered) => {
        const reqsBefore = a.reqs.length;
        for (const s of sockets) s.destroy();
        // Published while the DVM is not connected: the listener's next attempt subscribes from before it.
        const req = request([['i', 'relays', 'text'], ['param', 'limit', '1'], ['p', dvmPubkey]]);
        await publish(a, req);
        await eventually('the request is answered after the reconnect', () => answers(a, req, 6050).length === 1);
        const again = a.reqs.slice(reqsBefore).flat().find((f) => Array.isArray(f.kinds) && f.kinds.includes(5050));
        assert.ok(again && typeof again.since === 'number' && again.since <= req.created_at, `subscribed again from before the request: ${JSON.stringify(again)}`);
        assert.equal(answered.get(req.id), 1);
      }, '1h', [url]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('a retried job signs the same result (its created_at comes from the workflow)', async () => {
    const config = localRelayConfig(t.url, {
      BIGBROTR__dvm__enabled: 'true',
      BIGBROTR__dvm__private_key: bytesToHex(dvmKey),
      BIGBROTR__dvm__relays: JSON.stringify([a.url]),
    });
    const { answerDvmJob } = createActivities({ db: t.db, config });
    const req = request([['i', 'relays', 'text'], ['param', 'limit', '2'], ['p', dvmPubkey]]);
    await publish(a, req);
    const q = { id: req.id, relays: [a.url], createdAt: Math.floor(Date.now() / 1000) };
    const first: DvmJobSummary = await new MockActivityEnvironment().run(answerDvmJob, q);
    const again: DvmJobSummary = await new MockActivityEnvironment().run(answerDvmJob, q);
    assert.equal(first.outcome, 'result');
    assert.equal(again.published?.eventId, first.published?.eventId);
    assert.equal(answers(a, req, 6050).length, 1);
  });
});
