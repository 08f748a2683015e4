// The address guard on real connections: servers on 127.0.0.1 stand for the worker's internal
// network (an "internal" HTTP service, a WebSocket relay, a redirecting NIP-11 server), and each
// counts what reaches it, so a refusal is seen to send nothing.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo, type LookupFunction } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { WebSocketServer } from 'ws';
import type { AddressGuard } from '../../activities/relay/address-guard.js';
import { createFinderActivities } from '../../activities/finder/finder.js';
import { HttpGetError, httpGet } from '../../activities/relay/http-get.js';
import { createNetworkActivities } from '../../activities/network.js';
import { fetchNip11 } from '../../activities/relay/nip11.js';
import { checkTls } from '../../activities/monitor/nip66-checks.js';
import { openRelay, RelayError, socksAgent } from '../../activities/relay/relay-socket.js';
import type { ApiOutcome, MonitorCheck, MonitorSummary, ProbeOutcome } from '../../common/index.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { startSocks5, type Socks5Server } from '../helpers/socks5-server.js';

const ONION = 'oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad.onion';
// Through the proxy: an onion relay whose NIP-11 server is the redirector, and an onion service on the internal server.
const ONION_SITE = `${'s'.repeat(56)}.onion`;
const ONION_INTERNAL = `${'i'.repeat(56)}.onion`;
const BLOCK: AddressGuard = { allowLocal: false };
const ALLOW: AddressGuard = { allowLocal: true };
const HTTP = { timeoutMs: 2000, maxBytes: 100_000, maxRedirects: 3 };

let internal: Server;
let internalPort = 0;
let internalRequests = 0;
let redirector: Server;
let redirectorOrigin = '';
let redirectorPort = 0;
let wss: WebSocketServer;
let wsPort = 0;
let wsConnections = 0;
let relay: LocalRelay;
let proxy: Socks5Server;
let t: TestDatabase;

/** Resolves the test's names to loopback, as a hostile DNS record would. */
const resolveToLoopback: LookupFunction = (hostname, options, callback) => {
  if (!hostname.endsWith('.test')) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

const listen = (server: Server) => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));

before(async () => {
  internal = createServer((req, res) => {
    internalRequests++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/relays' ? ['wss://internal-list.example'] : { name: 'internal secret' }));
  });
  internalPort = await listen(internal);
  redirector = createServer((req, res) => {
    const to: Record<string, string> = {
      '/to-loopback': `http://127.0.0.1:${internalPort}/`,
      '/to-loopback-list': `http://127.0.0.1:${internalPort}/relays`,
      '/to-name': `http://internal.test:${internalPort}/`,
      '/to-metadata': 'http://169.254.169.254/latest/meta-data/',
      '/to-mapped': `http://[::ffff:127.0.0.1]:${internalPort}/`,
      '/onion-to-name': `http://internal.example:${internalPort}/`,
      '/onion-to-localhost': `http://localhost:${internalPort}/`,
      '/onion-to-onion': `http://${ONION_INTERNAL}/`,
    };
    const location = to[req.url ?? ''];
    res.writeHead(location ? 302 : 404, location ? { location } : {});
    res.end();
  });
  redirectorPort = await listen(redirector);
  redirectorOrigin = `http://127.0.0.1:${redirectorPort}`;
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  wsPort = (wss.address() as AddressInfo).port;
  wss.on('connection', () => wsConnections++);
  relay = await startLocalRelay({ nip11: { name: 'Local relay' } });
  // The proxy resolves clearnet names too, as Tor does: internal.example and localhost stand for
  // names of the network the proxy runs in.
  const routes: Record<string, number | undefined> = { [ONION]: wsPort, [ONION_SITE]: redirectorPort, [ONION_INTERNAL]: internalPort };
  proxy = await startSocks5({
    resolve: (host, port) => {
      if (host === 'internal.example' || host === 'localhost') return { host: '127.0.0.1', port };
      const routed = routes[host];
      return routed === undefined ? undefined : { host: '127.0.0.1', port: routed };
    },
  });
  t = await freshDatabase();
});
after(async () => {
  internal.closeAllConnections();
  redirector.closeAllConnections();
  for (const c of wss.clients) c.terminate();
  await Promise.all([
    new Promise((r) => internal.close(r)),
    new Promise((r) => redirector.close(r)),
    new Promise((r) => wss.close(r)),
    relay.stop(),
    proxy.stop(),
  ]);
  await t.drop();
});

/** Counts socket connects while `fn` runs: a refused literal must not get as far as one. */
async function connectsDuring(fn: () => Promise<unknown>): Promise<number> {
  const original = net.Socket.prototype.connect;
  let connects = 0;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    connects++;
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
  try {
    await fn();
  } finally {
    net.Socket.prototype.connect = original;
  }
  return connects;
}

const blockedHttp = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof HttpGetError, String(err));
  assert.equal(err.code, 'blocked-address');
  assert.match(err.message, pattern);
  return true;
};
const blockedRelay = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof RelayError, String(err));
  assert.equal(err.code, 'blocked-address');
  assert.match(err.message, pattern);
  return true;
};

describe('address guard: redirects', () => {
  // The redirecting server is itself on 127.0.0.1: it is let through as a trusted origin, so what
  // is tested is the redirect hop.
  const nip11Guard = (): AddressGuard => ({ allowLocal: false, trustedOrigin: redirectorOrigin });
  const relayUrl = (path: string) => `${redirectorOrigin.replace('http:', 'ws:')}${path}`;

  it('a NIP-11 answer redirecting to loopback is refused, and the internal server gets no request', async () => {
    const before = internalRequests;
    for (const path of ['/to-loopback', '/to-mapped']) {
      const r = await fetchNip11(relayUrl(path), { ...HTTP, guard: nip11Guard() });
      assert.equal(r.ok, false, path);
      assert.equal(!r.ok && r.code, 'blocked-address', path);
      assert.match(!r.ok ? r.reason : '', /127\.0\.0\.1|::ffff:7f00:1/);
    }
    assert.equal(internalRequests, before);
  });

  it('a redirect to the metadata address, or to a name resolving to loopback, is refused', async () => {
    const before = internalRequests;
    const meta = await fetchNip11(relayUrl('/to-metadata'), { ...HTTP, guard: nip11Guard() });
    assert.deepEqual(!meta.ok && [meta.code, /169\.254\.169\.254 is the cloud metadata address/.test(meta.reason)], ['blocked-address', true]);
    const name = await fetchNip11(relayUrl('/to-name'), { ...HTTP, guard: { ...nip11Guard(), lookup: resolveToLoopback } });
    assert.deepEqual(!name.ok && [name.code, /internal\.test resolves to 127\.0\.0\.1/.test(name.reason)], ['blocked-address', true]);
    assert.equal(internalRequests, before);
  });

  it('with allow_local the redirect is followed', async () => {
    const before = internalRequests;
    const r = await fetchNip11(relayUrl('/to-loopback'), { ...HTTP, guard: ALLOW });
    assert.equal(r.ok && r.document.name, 'internal secret');
    assert.equal(internalRequests, before + 1);
  });

  it("the Finder's API source on a local address is trusted, its redirect elsewhere inside is not", async () => {
    const finder = (allowLocal: boolean) => {
      const base = testConfig(t.url, { BIGBROTR__relay_url__allow_local: String(allowLocal) });
      const apis = [{ name: 'hop', url: `${redirectorOrigin}/to-loopback-list` }];
      return createFinderActivities({ db: t.db, config: { ...base, finder: { ...base.finder, apis, api_timeout: 2000, api_max_bytes: 100_000, api_max_redirects: 3 } } });
    };
    const before = internalRequests;
    const off: ApiOutcome = await new MockActivityEnvironment().run(finder(false).fetchRelayList, 'hop');
    assert.equal(off.ok, false);
    assert.match(off.error ?? '', /127\.0\.0\.1 is a local, private or special-purpose address/);
    assert.equal(internalRequests, before);
    const on: ApiOutcome = await new MockActivityEnvironment().run(finder(true).fetchRelayList, 'hop');
    assert.equal(on.ok, true, on.error);
    assert.equal(internalRequests, before + 1);
  });
});

describe('address guard: overlay relays through their SOCKS5 proxy', () => {
  // allowLocal is off, but no hop here is an IP literal or looked up locally: the proxy resolves
  // every name, so only the overlay rule and the localhost rule stand between a hop and the inside.
  const viaProxy = () => ({ ...HTTP, agent: socksAgent(proxy.url), guard: BLOCK });

  it('a NIP-11 redirect from an .onion relay to a clearnet name is refused, and the proxy is not asked', async () => {
    const before = internalRequests;
    for (const [path, host] of [['/onion-to-name', 'internal.example'], ['/onion-to-localhost', 'localhost']] as const) {
      const r = await fetchNip11(`ws://${ONION_SITE}${path}`, viaProxy());
      assert.equal(r.ok, false, path);
      assert.equal(!r.ok && r.code, 'blocked-address', path);
      assert.equal(!r.ok && r.reason, `redirect to http://${host}:${internalPort}/: ${host} is off the tor network the request began on`);
      assert.ok(!proxy.requested.includes(`${host}:${internalPort}`), path);
    }
    assert.equal(internalRequests, before);
  });

  it('a redirect to another .onion is followed', async () => {
    const before = internalRequests;
    const r = await fetchNip11(`ws://${ONION_SITE}/onion-to-onion`, viaProxy());
    assert.equal(r.ok && r.document.name, 'internal secret', r.ok ? '' : r.reason);
    assert.equal(internalRequests, before + 1);
  });

  it('a localhost name is refused before the proxy, which would resolve it to its own host', async () => {
    const [wsBefore, httpBefore, asked] = [wsConnections, internalRequests, proxy.requested.length];
    await assert.rejects(openRelay(`ws://localhost:${wsPort}`, { timeoutMs: 2000, agent: socksAgent(proxy.url), guard: BLOCK }), blockedRelay(/: localhost is a local name$/));
    await assert.rejects(httpGet(`http://localhost:${internalPort}/`, viaProxy()), blockedHttp(/localhost is a local name/));
    assert.deepEqual([wsConnections, internalRequests, proxy.requested.length], [wsBefore, httpBefore, asked]);
  });
});

describe('address guard: names resolving to loopback', () => {
  it('localhost, and a name the resolver maps to 127.0.0.1, are refused for WebSocket and HTTP', async () => {
    const [wsBefore, httpBefore] = [wsConnections, internalRequests];
    await assert.rejects(openRelay(`ws://localhost:${wsPort}`, { timeoutMs: 2000, guard: BLOCK }), blockedRelay(/localhost resolves to (127\.0\.0\.1|::1), a local/));
    await assert.rejects(openRelay(`ws://relay.test:${wsPort}`, { timeoutMs: 2000, guard: { ...BLOCK, lookup: resolveToLoopback } }), blockedRelay(/relay\.test resolves to 127\.0\.0\.1/));
    await assert.rejects(httpGet(`http://localhost:${internalPort}/`, { ...HTTP, guard: BLOCK }), blockedHttp(/localhost resolves to/));
    await assert.rejects(httpGet(`http://internal.test:${internalPort}/`, { ...HTTP, guard: { ...BLOCK, lookup: resolveToLoopback } }), blockedHttp(/internal\.test resolves to 127\.0\.0\.1/));
    assert.deepEqual([wsConnections, internalRequests], [wsBefore, httpBefore]);
  });

  it('with allow_local they are connected to', async () => {
    const [wsBefore, httpBefore] = [wsConnections, internalRequests];
    const conn = await openRelay(`ws://localhost:${wsPort}`, { timeoutMs: 2000, guard: ALLOW });
    conn.close();
    const res = await httpGet(`http://internal.test:${internalPort}/`, { ...HTTP, guard: { ...ALLOW, lookup: resolveToLoopback } }).catch((err: Error) => err);
    // allowLocal turns the whole guard off, the injected resolver with it: the system resolver does not know .test
    assert.ok(res instanceof HttpGetError && res.code === 'network');
    assert.equal((await httpGet(`http://localhost:${internalPort}/`, { ...HTTP, guard: ALLOW })).status, 200);
    assert.deepEqual([wsConnections, internalRequests], [wsBefore + 1, httpBefore + 1]);
  });

  it("the Monitor's TLS check too: a name resolving to loopback, and a loopback literal, are refused before any connection", async () => {
    const before = wsConnections;
    const byName = await checkTls('localhost', wsPort, { timeoutMs: 2000, guard: BLOCK });
    const byLiteral = await checkTls('127.0.0.1', wsPort, { timeoutMs: 2000, guard: BLOCK });
    assert.deepEqual([byName.ok, byLiteral.ok], [false, false]);
    assert.deepEqual([(byName as { code: string }).code, (byLiteral as { code: string }).code], ['blocked-address', 'blocked-address']);
    assert.equal(wsConnections, before);
  });

  it('an overlay relay through its SOCKS5 proxy is exempt: the proxy resolves the name', async () => {
    const before = wsConnections;
    const conn = await openRelay(`ws://${ONION}`, { timeoutMs: 2000, agent: socksAgent(proxy.url), guard: BLOCK });
    conn.close();
    assert.equal(wsConnections, before + 1);
  });
});

describe('address guard: IP literals', () => {
  const literals = () => ['10.0.0.1', '169.254.169.254', '[::1]', '[::ffff:127.0.0.1]', '0.0.0.0', '100.64.0.1'];

  it('are refused before any connect, for WebSocket and HTTP', async () => {
    const [wsBefore, httpBefore] = [wsConnections, internalRequests];
    const connects = await connectsDuring(async () => {
      for (const host of literals()) {
        await assert.rejects(openRelay(`ws://${host}:${wsPort}`, { timeoutMs: 5000, guard: BLOCK }), blockedRelay(/ is (a local|the cloud metadata)/), host);
        await assert.rejects(httpGet(`http://${host}:${internalPort}/`, { ...HTTP, timeoutMs: 5000, guard: BLOCK }), blockedHttp(/ is (a local|the cloud metadata)/), host);
      }
    });
    assert.equal(connects, 0);
    assert.deepEqual([wsConnections, internalRequests], [wsBefore, httpBefore]);
  });

  it('with allow_local the local ones are connected to', async () => {
    const before = wsConnections;
    const conn = await openRelay(`ws://[::ffff:127.0.0.1]:${wsPort}`, { timeoutMs: 2000, guard: ALLOW });
    conn.close();
    assert.equal(wsConnections, before + 1);
    assert.equal((await httpGet(`http://127.0.0.1:${internalPort}/`, { ...HTTP, guard: ALLOW })).status, 200);
  });
});

describe('address guard: the Validator and the Monitor', () => {
  const activities = (allowLocal: boolean) =>
    createNetworkActivities({ config: testConfig(t.url, { BIGBROTR__relay_url__allow_local: String(allowLocal) }), network: 'clearnet', db: t.db });

  it('without allow_local a relay on loopback is refused by reason, and never reached', async () => {
    const before = relay.connections;
    const probe: ProbeOutcome = await new MockActivityEnvironment().run(activities(false).probeRelay, { url: relay.url, network: 'clearnet' as const });
    assert.equal(probe.verdict, 'invalid');
    assert.match(probe.reason, /^blocked-address: /);
    const check: MonitorSummary = await new MockActivityEnvironment().run(activities(false).checkRelay, {
      url: relay.url, network: 'clearnet' as const, generatedAt: Math.floor(Date.now() / 1000), checks: ['nip11', 'open'] as MonitorCheck[],
    });
    assert.deepEqual(check.ok, []);
    assert.match(check.failed.nip11 ?? '', /^blocked-address: /);
    assert.match(check.failed.open ?? '', /^blocked-address: /);
    assert.equal(relay.connections, before);
  });

  it('with allow_local it is probed', async () => {
    const probe: ProbeOutcome = await new MockActivityEnvironment().run(activities(true).probeRelay, { url: relay.url, network: 'clearnet' as const });
    assert.equal(probe.verdict, 'valid', probe.reason);
  });
});
