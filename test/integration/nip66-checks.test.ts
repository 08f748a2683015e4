// The NIP-66 host checks on real sockets: TLS against a local server with a certificate openssl
// makes for the run, DNS against a local UDP server answering from a table, GeoIP against tiny
// City and ASN databases written here. Nothing leaves 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { checkDns, checkTls, GeoIp, geohash } from '../../activities/monitor/nip66-checks.js';
import { reverseName, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { writeMmdb } from '../helpers/mmdb-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'bigbrotr-nip66-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A server that keeps track of its connections, so `after` can end them and close at once. */
function closable<S extends Server>(server: S): S & { shut(): Promise<void> } {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return Object.assign(server, {
    shut: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

describe('checkTls', () => {
  const certPath = join(dir, 'cert.pem');
  let cert: string;
  let tlsPort: number;
  let silentPort: number;
  let httpPort: number;
  const servers: { shut(): Promise<void> }[] = [];
  const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' }).trim();

  before(async () => {
    openssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
      '-subj', '/O=Test Relays/CN=relay.test',
      '-addext', 'subjectAltName=DNS:relay.test,DNS:*.relay.test,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', certPath,
    );
    cert = readFileSync(certPath, 'utf8');
    const tlsServer = closable(createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (s) => s.on('error', () => {})));
    tlsServer.on('tlsClientError', () => {});
    tlsPort = await listen(tlsServer);
    const silent = closable(createTcpServer(() => {})); // accepts, never speaks TLS
    silentPort = await listen(silent);
    const http = closable(createTcpServer((s) => s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')));
    httpPort = await listen(http);
    servers.push(tlsServer, silent, http);
  });
  after(() => Promise.all(servers.map((s) => s.shut())));

  it('describes a self-signed certificate as openssl does, and says it is not verified', async () => {
    const r = await checkTls('127.0.0.1', tlsPort, { timeoutMs: 5000, servername: 'relay.test' });
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    const field = (flag: string, ...more: string[]) => openssl('x509', '-noout', flag, ...more, '-in', certPath).replace(/^[^=]*=/, '');
    assert.equal(r.subject, field('-subject', '-nameopt', 'sep_comma_plus_space'));
    assert.equal(r.subject, 'O=Test Relays, CN=relay.test');
    assert.equal(r.issuer, field('-issuer', '-nameopt', 'sep_comma_plus_space'));
    assert.deepEqual(r.sans, ['relay.test', '*.relay.test', '127.0.0.1']);
    assert.equal(r.serial, field('-serial'));
    const iso = (flag: string) => Date.parse(field(flag, '-dateopt', 'iso_8601').replace(' ', 'T')) / 1000;
    assert.equal(r.validFrom, iso('-startdate'));
    assert.equal(r.validTo, iso('-enddate'));
    assert.equal(r.validTo - r.validFrom, 30 * 86400);
    assert.equal(r.fingerprintSha256, field('-fingerprint', '-sha256').replaceAll(':', '').toLowerCase());
    assert.match(r.fingerprintSha256, /^[0-9a-f]{64}$/);
    assert.equal(r.protocol, 'TLSv1.3');
    assert.match(r.cipher, /^TLS_/);
    assert.equal(r.verified, false);
    assert.equal(r.verifyError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.ok(r.ms >= 0 && r.ms < 5000);
  });

  it('verifies the certificate against a CA given for the test, by name and by IP address', async () => {
    const byName = await checkTls('127.0.0.1', tlsPort, { timeoutMs: 5000, servername: 'relay.test', ca: cert });
    assert.equal(byName.ok && byName.verified, true, JSON.stringify(byName));
    assert.equal(byName.ok && byName.verifyError, undefined);
    const wildcard = await checkTls('127.0.0.1', tlsPort, { timeoutMs: 5000, servername: 'eu.relay.test', ca: cert });
    assert.equal(wildcard.ok && wildcard.verified, true, JSON.stringify(wildcard));
    const byIp = await checkTls('127.0.0.1', tlsPort, { timeoutMs: 5000, ca: cert });
    assert.equal(byIp.ok && byIp.verified, true, JSON.stringify(byIp));
  });

  it('reports a trusted certificate for another name as not verified, with the reason', async () => {
    const r = await checkTls('127.0.0.1', tlsPort, { timeoutMs: 5000, servername: 'other.example', ca: cert });
    assert.equal(r.ok, true);
    assert.equal(r.ok && r.verified, false);
    assert.equal(r.ok && r.verifyError, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('says refused when nothing listens', async () => {
    const free = createTcpServer();
    const port = await listen(free);
    await new Promise((resolve) => free.close(resolve));
    const r = await checkTls('127.0.0.1', port, { timeoutMs: 5000 });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'refused');
    assert.match(!r.ok ? r.reason : '', new RegExp(`127\\.0\\.0\\.1:${port}`));
  });

  it('times out against a TCP server that never answers the handshake', async () => {
    const r = await checkTls('127.0.0.1', silentPort, { timeoutMs: 300 });
    assert.equal(!r.ok && r.code, 'timeout', JSON.stringify(r));
    assert.match(!r.ok ? r.reason : '', /no TLS handshake from 127\.0\.0\.1:\d+ within 300 ms/);
    assert.ok(r.ms >= 290 && r.ms < 2000, `took ${r.ms} ms`);
  });

  it('says handshake when the server speaks something else', async () => {
    const r = await checkTls('127.0.0.1', httpPort, { timeoutMs: 5000 });
    assert.equal(!r.ok && r.code, 'handshake', JSON.stringify(r));
    assert.match(!r.ok ? r.reason : '', /TLS handshake with 127\.0\.0\.1:\d+/);
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const r = await checkTls('127.0.0.1', silentPort, { timeoutMs: 5000, signal: controller.signal });
    assert.equal(!r.ok && r.code, 'aborted');
    assert.ok(r.ms < 2000);
  });
});

describe('checkDns', () => {
  let dns: DnsServer;
  let mute: UdpSocket;
  let mutePort: number;
  before(async () => {
    dns = await startDnsServer({
      'relay.example.test': [
        { type: 'A', value: '192.0.2.10', ttl: 300 },
        { type: 'A', value: '192.0.2.11', ttl: 300 },
        { type: 'AAAA', value: '2001:db8::10', ttl: 60 },
      ],
      'alias.example.test': [{ type: 'CNAME', value: 'relay.example.test', ttl: 600 }],
      'v6only.example.test': [{ type: 'AAAA', value: '2001:db8::20', ttl: 90 }],
      'nothing.example.test': [{ type: 'NS', value: 'ns1.example.test' }],
      'example.test': [
        { type: 'NS', value: 'ns1.example.test' },
        { type: 'NS', value: 'ns2.example.test' },
      ],
      [reverseName('192.0.2.10')]: [{ type: 'PTR', value: 'relay.example.test' }],
      [reverseName('2001:db8::20')]: [{ type: 'PTR', value: 'v6only.example.test' }],
    });
    mute = createSocket('udp4'); // receives questions, never answers
    await new Promise<void>((resolve) => mute.bind(0, '127.0.0.1', resolve));
    mutePort = mute.address().port;
  });
  after(async () => {
    await dns.close();
    await new Promise<void>((resolve) => mute.close(() => resolve()));
  });

  it('collects A, AAAA, the smallest TTL, the zone NS and the PTR of the first address', async () => {
    const r = await checkDns('relay.example.test', { timeoutMs: 3000, servers: [dns.address] });
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    assert.deepEqual(r.a, ['192.0.2.10', '192.0.2.11']);
    assert.deepEqual(r.aaaa, ['2001:db8::10']);
    assert.equal(r.ttl, 60);
    assert.equal(r.cname, undefined);
    assert.deepEqual(r.ns, ['ns1.example.test', 'ns2.example.test']);
    assert.deepEqual(r.ptr, ['relay.example.test']);
    // NS: the host has none, so its parent was asked; the walk never asks the top-level domain.
    assert.ok(dns.queries.includes('relay.example.test NS') && dns.queries.includes('example.test NS'));
    assert.ok(!dns.queries.includes('test NS'));
  });

  it('reports the CNAME and the addresses behind it', async () => {
    const r = await checkDns('alias.example.test', { timeoutMs: 3000, servers: [dns.address] });
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    assert.equal(r.cname, 'relay.example.test');
    assert.deepEqual(r.a, ['192.0.2.10', '192.0.2.11']);
    assert.deepEqual(r.aaaa, ['2001:db8::10']);
    assert.deepEqual(r.ptr, ['relay.example.test']);
    assert.deepEqual(r.ns, ['ns1.example.test', 'ns2.example.test']);
  });

  it('takes an IPv6-only host as found, with the PTR of its IPv6 address', async () => {
    const r = await checkDns('v6only.example.test', { timeoutMs: 3000, servers: [dns.address] });
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    assert.deepEqual(r.a, []);
    assert.deepEqual(r.aaaa, ['2001:db8::20']);
    assert.equal(r.ttl, 90);
    assert.deepEqual(r.ptr, ['v6only.example.test']);
  });

  it('says not-found for an unknown name and for a name without addresses', async () => {
    const unknown = await checkDns('nope.example.test', { timeoutMs: 3000, servers: [dns.address] });
    assert.equal(!unknown.ok && unknown.code, 'not-found', JSON.stringify(unknown));
    assert.equal(!unknown.ok && unknown.reason, 'nope.example.test does not exist (NXDOMAIN)');
    const empty = await checkDns('nothing.example.test', { timeoutMs: 3000, servers: [dns.address] });
    assert.equal(!empty.ok && empty.code, 'not-found', JSON.stringify(empty));
    assert.equal(!empty.ok && empty.reason, 'nothing.example.test has no A or AAAA record');
  });

  it('times out against a server that never answers', async () => {
    const r = await checkDns('relay.example.test', { timeoutMs: 400, servers: [`127.0.0.1:${mutePort}`] });
    assert.equal(!r.ok && r.code, 'timeout', JSON.stringify(r));
    assert.match(!r.ok ? r.reason : '', /no DNS answer for relay\.example\.test within 400 ms/);
    assert.ok(r.ms >= 390 && r.ms < 2000, `took ${r.ms} ms`);
  });

  it('takes an address literal as its own address and looks up only its PTR', async () => {
    const r = await checkDns('192.0.2.10', { timeoutMs: 3000, servers: [dns.address] });
    assert.deepEqual(r.ok && { a: r.a, aaaa: r.aaaa, ptr: r.ptr, ns: r.ns }, { a: ['192.0.2.10'], aaaa: [], ptr: ['relay.example.test'], ns: [] });
  });
});

describe('GeoIp', () => {
  const cityPath = join(dir, 'GeoLite2-City.mmdb');
  const asnPath = join(dir, 'GeoLite2-ASN.mmdb');
  let geo: GeoIp;
  before(async () => {
    writeFileSync(
      cityPath,
      writeMmdb(
        [
          {
            network: '192.0.2.0/24',
            data: {
              city: { geoname_id: 2620214, names: { en: 'Hjørring' } },
              country: { iso_code: 'DK', names: { en: 'Denmark' } },
              registered_country: { iso_code: 'DK', names: { en: 'Denmark' } },
              location: { accuracy_radius: 20, latitude: 57.64911, longitude: 10.40744, time_zone: 'Europe/Copenhagen' },
              subdivisions: [{ iso_code: '81', names: { en: 'North Denmark' } }],
            },
          },
          {
            network: '2001:db8:100::/40',
            data: {
              city: { names: { en: 'Tokyo' } },
              country: { iso_code: 'JP' },
              location: { accuracy_radius: 5, latitude: 35.6895, longitude: 139.6917, time_zone: 'Asia/Tokyo' },
              subdivisions: [{ iso_code: '13', names: { en: 'Tokyo' } }],
            },
          },
          { network: '203.0.113.0/24', data: { registered_country: { iso_code: 'US' } } },
        ],
        { databaseType: 'GeoLite2-City' },
      ),
    );
    writeFileSync(
      asnPath,
      writeMmdb(
        [
          { network: '192.0.2.0/24', data: { autonomous_system_number: 64500, autonomous_system_organization: 'Example Networks' } },
          { network: '2001:db8::/32', data: { autonomous_system_number: 64501, autonomous_system_organization: 'Example Six' } },
        ],
        { databaseType: 'GeoLite2-ASN' },
      ),
    );
    geo = await GeoIp.open({ city: cityPath, asn: asnPath });
  });

  it('places an IPv4 address and names its network', () => {
    assert.deepEqual(geo.geo('192.0.2.77'), {
      country: 'DK',
      city: 'Hjørring',
      region: '81',
      lat: 57.64911,
      lon: 10.40744,
      tz: 'Europe/Copenhagen',
      geohash: 'u4pruydqq',
    });
    assert.deepEqual(geo.net('192.0.2.77'), { ip: '192.0.2.77', asn: 64500, asOrg: 'Example Networks', cidr: '192.0.2.0/24' });
  });

  it('places an IPv6 address and names its network', () => {
    assert.deepEqual(geo.geo('2001:db8:1ff::1'), {
      country: 'JP',
      city: 'Tokyo',
      region: '13',
      lat: 35.6895,
      lon: 139.6917,
      tz: 'Asia/Tokyo',
      geohash: 'xn774c06k',
    });
    assert.deepEqual(geo.net('2001:DB8:1FF:0:0:0:0:1'), { ip: '2001:db8:1ff::1', asn: 64501, asOrg: 'Example Six', cidr: '2001:db8::/32' });
  });

  it('takes an IPv4-mapped IPv6 address as the IPv4 address', () => {
    assert.equal(geo.geo('::ffff:192.0.2.77')?.city, 'Hjørring');
    assert.deepEqual(geo.net('::ffff:192.0.2.77'), geo.net('192.0.2.77'));
  });

  it('knows nothing of an address in no network, and of what is not an address', () => {
    for (const ip of ['198.51.100.7', '2001:db9::1', 'relay.example.test']) {
      assert.equal(geo.geo(ip), undefined, ip);
      assert.deepEqual(geo.net(ip), { ip }, ip);
    }
  });

  it('falls back to the registered country, and has no geohash without coordinates', () => {
    assert.deepEqual(geo.geo('203.0.113.9'), { country: 'US' });
  });

  it('encodes geohashes as the reference examples do', () => {
    assert.equal(geohash(57.64911, 10.40744), 'u4pruydqq');
    assert.equal(geohash(57.64911, 10.40744, 11), 'u4pruydqqvj');
    assert.equal(geohash(42.6, -5.6, 5), 'ezs42');
    assert.equal(geohash(0, 0), 's00000000');
    assert.equal(geohash(-90, -180), '000000000');
    assert.equal(geohash(89.9999999, 179.9999999), 'zzzzzzzzz');
  });

  it('opens with either database left out', async () => {
    const none = await GeoIp.open({});
    assert.equal(none.geo('192.0.2.77'), undefined);
    assert.deepEqual(none.net('192.0.2.77'), { ip: '192.0.2.77' });
    const asnOnly = await GeoIp.open({ asn: asnPath });
    assert.equal(asnOnly.geo('192.0.2.77'), undefined);
    assert.equal(asnOnly.net('192.0.2.77').asn, 64500);
  });

  it('fails clearly on a missing file, a file that is no database, and swapped paths', async () => {
    const missing = join(dir, 'absent', 'GeoLite2-City.mmdb');
    await assert.rejects(GeoIp.open({ city: missing }), { message: `GeoIP city database ${missing}: no such file` });
    const junk = join(dir, 'junk.mmdb');
    writeFileSync(junk, 'not a database');
    await assert.rejects(GeoIp.open({ asn: junk }), (err: Error) => err.message.startsWith(`GeoIP ASN database ${junk} is not a readable MaxMind DB: `));
    await assert.rejects(GeoIp.open({ city: asnPath, asn: cityPath }), {
      message: `GeoIP city database ${asnPath} is a GeoLite2-ASN database, not a city one`,
    });
  });
});
