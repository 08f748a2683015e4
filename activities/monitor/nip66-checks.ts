// The NIP-66 probes that look at a relay's host rather than its websocket: its TLS certificate,
// its DNS records, and where its address sits (GeoIP city and ASN). Each check returns a plain
// result: a failure is `{ ok: false, code, reason }` with a short stable `code` for counting and a
// reason naming the culprit, never a throw, because a relay failing a probe is data, not an error.
// GeoIP comes from local MaxMind DB files only: nothing here downloads anything.
import { createHash, type X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { stat } from 'node:fs/promises';
import { isIP, isIPv4 } from 'node:net';
import tls from 'node:tls';
import { BlockedAddressError, guardConnection, type AddressGuard } from '../relay/address-guard.js';
import { open as openMmdb, type AsnResponse, type CityResponse, type Reader } from 'maxmind';

export interface CheckFailure<C extends string> {
  ok: false;
  code: C;
  reason: string;
  ms: number;
}

// ---------------------------------------------------------------------------------------------
// TLS

export interface TlsResult {
  ok: true;
  /** One line, in certificate order: `O=Example, CN=relay.example`. */
  subject: string;
  issuer: string;
  /** DNS names and IP addresses of the subjectAltName extension, in order. */
  sans: string[];
  /** Upper-case hex, as openssl prints it. */
  serial: string;
  /** Unix seconds. */
  validFrom: number;
  validTo: number;
  /** SHA-256 of the DER certificate, lower-case hex without colons. */
  fingerprintSha256: string;
  /** e.g. `TLSv1.3`. */
  protocol: string;
  /** OpenSSL's name, e.g. `TLS_AES_256_GCM_SHA384`. */
  cipher: string;
  /** Chain and host name both check out against the trusted CAs. */
  verified: boolean;
  /** Why not, as OpenSSL's or node's code, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`. */
  verifyError?: string;
  ms: number;
}

export type TlsFailureCode = 'timeout' | 'refused' | 'handshake' | 'network' | 'aborted' | 'blocked-address';

export interface TlsOptions {
  timeoutMs: number;
  /** SNI and the name the certificate is checked against; default the host (none for an IP). */
  servername?: string;
  /** Trusted CAs instead of the system's: for tests, to verify a test CA. */
  ca?: string | Buffer;
  signal?: AbortSignal;
  /** Internal addresses refused (address-guard.ts), on the address the name resolves to. */
  guard?: AddressGuard;
}

export function checkTls(host: string, port: number, options: TlsOptions): Promise<TlsResult | CheckFailure<TlsFailureCode>> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve) => {
    const fail = (code: TlsFailureCode, reason: string) => finish({ ok: false, code, reason, ms: ms() });
    if (options.signal?.aborted) return resolve({ ok: false, code: 'aborted', reason: 'cancelled', ms: 0 });
    const guarded = guardConnection(new URL(`wss://${where}`), options.guard, false);
    if (guarded.error) return resolve({ ok: false, code: 'blocked-address', reason: guarded.error.message, ms: 0 });
    let settled = false;
    let tcpConnected = false;
    let socket: tls.TLSSocket;
    try {
      // rejectUnauthorized: false so that a self-signed or expired certificate is still described;
      // node still verifies it (chain and host name) and says so in authorized/authorizationError.
      socket = tls.connect({
        host,
        port,
        servername: options.servername ?? (isIP(host) ? undefined : host),
        rejectUnauthorized: false,
        ca: options.ca,
        lookup: guarded.lookup,
      });
    } catch (err) {
      // A bad port or a malformed CA throws at once rather than emitting 'error'.
      return resolve({ ok: false, code: 'network', reason: `cannot connect to ${where}: ${(err as Error).message}`, ms: ms() });
    }
    const onAbort = () => fail('aborted', 'cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => fail('timeout', tcpConnected ? `no TLS handshake from ${where} within ${options.timeoutMs} ms` : `no connection to ${where} within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    function finish(result: TlsResult | CheckFailure<TlsFailureCode>) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    }
    socket.once('connect', () => (tcpConnected = true));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      if (!cert) return fail('handshake', `${where} sent no certificate`);
      const error = socket.authorizationError as unknown; // a code string at run time, despite the typing
      finish({
        ok: true,
        ...describeCertificate(cert),
        protocol: socket.getProtocol() ?? '',
        cipher: socket.getCipher()?.name ?? '',
        verified: socket.authorized,
        ...(socket.authorized ? {} : { verifyError: String(error instanceof Error ? error.message : error ?? 'not verified') }),
        ms: ms(),
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const detail = err.code && !err.message.includes(err.code) ? `${err.code} ${err.message}` : err.message;
      if (err.code === 'ECONNREFUSED') fail('refused', `connection refused by ${where}`);
      else if (err instanceof BlockedAddressError) fail('blocked-address', err.message);
      // Once TCP is up, whatever goes wrong is the TLS server's doing (an alert, a reset, plain
      // HTTP on the port); before that it is the path to it (name resolution, routing).
      else if (tcpConnected) fail('handshake', `TLS handshake with ${where} failed: ${detail}`);
      else fail('network', `cannot reach ${where}: ${detail}`);
    });
    socket.once('close', () => fail('handshake', `${where} closed the connection during the TLS handshake`));
  });
}

function describeCertificate(cert: X509Certificate) {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    sans: altNames(cert.subjectAltName),
    serial: cert.serialNumber.toUpperCase(),
    validFrom: certificateTime(cert.validFrom),
    validTo: certificateTime(cert.validTo),
    fingerprintSha256: createHash('sha256').update(cert.raw).digest('hex'),
  };
}

// Node gives a distinguished name one attribute per line.
function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

// `DNS:a.example, DNS:*.a.example, IP Address:127.0.0.1`; a value holding a comma or a quote comes
// JSON-quoted (node escapes it so that a crafted name cannot pass for two).
function altNames(text: string | undefined): string[] {
  const out: string[] = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const kind = text.slice(i, colon).trim();
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end++;
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string;
      } catch {
        value = text.slice(colon + 2, end - 1);
      }
      const comma = text.indexOf(',', end);
      end = comma < 0 ? text.length : comma;
    } else {
      const comma = text.indexOf(',', colon);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    if (kind === 'DNS' || kind === 'IP Address') out.push(value.trim());
    i = end + 1;
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// OpenSSL's `Mar  1 12:00:00 2026 GMT`, parsed by hand rather than trusting Date.parse's guesses.
function certificateTime(text: string): number {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4,}) GMT$/.exec(text.trim());
  const month = m ? MONTHS.indexOf(m[1]!) : -1;
  if (!m || month < 0) return Math.floor(Date.parse(text) / 1000);
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) / 1000;
}

// ---------------------------------------------------------------------------------------------
// DNS

export interface DnsResult {
  ok: true;
  a: string[];
  aaaa: string[];
  cname?: string;
  /** The smallest TTL of the A/AAAA answers. */
  ttl?: number;
  /** Name servers of the host, or of the nearest parent domain that has some. */
  ns: string[];
  /** Reverse names of the first address (IPv4 first). */
  ptr: string[];
  ms: number;
}

export type DnsFailureCode = 'timeout' | 'not-found' | 'network';

export interface DnsOptions {
  /** For the whole check: every lookup still running then is cancelled. */
  timeoutMs: number;
  /** e.g. `['127.0.0.1:5353']`; default the system's resolvers. */
  servers?: string[];
}

const TIMED_OUT = new Set(['ETIMEOUT', 'ECANCELLED']);

export async function checkDns(host: string, options: DnsOptions): Promise<DnsResult | CheckFailure<DnsFailureCode>> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const name = host.replace(/\.$/, '');
  // tries: 1 because the deadline below is for the whole check, not per attempt.
  const resolver = new Resolver({ timeout: Math.max(1, Math.round(options.timeoutMs)), tries: 1 });
  try {
    if (options.servers) resolver.setServers(options.servers);
  } catch (err) {
    return { ok: false, code: 'network', reason: `bad DNS servers ${JSON.stringify(options.servers)}: ${(err as Error).message}`, ms: ms() };
  }
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    resolver.cancel();
  }, options.timeoutMs);
  try {
    // An address literal has no A/AAAA to look up, but its reverse name is still worth knowing.
    if (isIP(name)) {
      const ptr = await resolver.reverse(name).catch(() => []);
      return { ok: true, a: isIPv4(name) ? [name] : [], aaaa: isIPv4(name) ? [] : [name], ns: [], ptr, ms: ms() };
    }
    const [a, aaaa, cname, ns] = await Promise.allSettled([
      resolver.resolve4(name, { ttl: true }),
      resolver.resolve6(name, { ttl: true }),
      resolver.resolveCname(name),
      nameServers(resolver, name),
    ]);
    const v4 = a.status === 'fulfilled' ? a.value : [];
    const v6 = aaaa.status === 'fulfilled' ? aaaa.value : [];
    if (v4.length === 0 && v6.length === 0) {
      const codes = [a, aaaa].map((r) => (r.status === 'rejected' ? String((r.reason as NodeJS.ErrnoException).code ?? r.reason) : 'ENODATA'));
      if (codes.includes('ENOTFOUND')) return { ok: false, code: 'not-found', reason: `${name} does not exist (NXDOMAIN)`, ms: ms() };
      if (codes.some((c) => TIMED_OUT.has(c))) return { ok: false, code: 'timeout', reason: `no DNS answer for ${name} within ${options.timeoutMs} ms`, ms: ms() };
      if (codes.every((c) => c === 'ENODATA')) return { ok: false, code: 'not-found', reason: `${name} has no A or AAAA record`, ms: ms() };
      return { ok: false, code: 'network', reason: `DNS lookup of ${name} failed: ${[...new Set(codes)].join(', ')}`, ms: ms() };
    }
    const first = v4[0]?.address ?? v6[0]?.address;
    const ptr = first && !expired ? await resolver.reverse(first).catch(() => []) : [];
    const ttls = [...v4, ...v6].map((r) => r.ttl);
    return {
      ok: true,
      a: v4.map((r) => r.address),
      aaaa: v6.map((r) => r.address),
      ...(cname.status === 'fulfilled' && cname.value[0] ? { cname: cname.value[0] } : {}),
      ...(ttls.length ? { ttl: Math.min(...ttls) } : {}),
      ns: ns.status === 'fulfilled' ? ns.value : [],
      ptr,
      ms: ms(),
    };
  } finally {
    clearTimeout(timer);
  }
}

// NS records usually sit on the zone (damus.io), not on the relay's name (relay.damus.io): walk up
// until a name has some, stopping short of the top-level domain, whose servers say nothing
// about the relay.
async function nameServers(resolver: Resolver, name: string): Promise<string[]> {
  const labels = name.split('.');
  for (let i = 0; labels.length - i >= 2; i++) {
    try {
      const ns = await resolver.resolveNs(labels.slice(i).join('.'));
      if (ns.length) return ns;
    } catch (err) {
      if (TIMED_OUT.has(String((err as NodeJS.ErrnoException).code))) return [];
    }
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// GeoIP

export interface GeoResult {
  /** ISO 3166-1 alpha-2, the physical country, else the registered one. */
  country?: string;
  /** English name. */
  city?: string;
  /** ISO code of the first (largest) subdivision. */
  region?: string;
  lat?: number;
  lon?: number;
  /** IANA time zone. */
  tz?: string;
  /** Precision 9 (about 5 m), as NIP-66's `g` tag wants. */
  geohash?: string;
}

export interface NetResult {
  ip: string;
  asn?: number;
  asOrg?: string;
  /** The database's network holding the address, e.g. `192.0.2.0/24`. */
  cidr?: string;
}

/** Readers over local GeoLite2/GeoIP2 City and ASN files; open once per worker, use for every relay. */
export class GeoIp {
  private constructor(
    private readonly city: Reader<CityResponse> | undefined,
    private readonly asn: Reader<AsnResponse> | undefined,
  ) {}

  /** Either file may be left out (its lookups then find nothing); a given one must exist. */
  static async open(paths: { city?: string; asn?: string }): Promise<GeoIp> {
    const city = paths.city === undefined ? undefined : await openDatabase<CityResponse>(paths.city, 'city', /city/i);
    const asn = paths.asn === undefined ? undefined : await openDatabase<AsnResponse>(paths.asn, 'ASN', /asn|isp/i);
    return new GeoIp(city, asn);
  }

  /** Where the address is, or undefined if the city database does not know it. */
  geo(ip: string): GeoResult | undefined {
    const address = normalizeIp(ip);
    if (!this.city || !address) return undefined;
    const record = this.city.get(address);
    if (!record) return undefined;
    const out: GeoResult = {};
    const country = record.country?.iso_code ?? record.registered_country?.iso_code;
    if (country) out.country = country;
    const city = record.city?.names?.en;
    if (city) out.city = city;
    const region = record.subdivisions?.[0]?.iso_code;
    if (region) out.region = region;
    const location = record.location;
    if (typeof location?.latitude === 'number' && typeof location.longitude === 'number') {
      out.lat = location.latitude;
      out.lon = location.longitude;
      out.geohash = geohash(location.latitude, location.longitude);
    }
    if (location?.time_zone) out.tz = location.time_zone;
    return out;
  }

  /** Who routes the address; only `ip` when the ASN database does not know it. */
  net(ip: string): NetResult {
    const address = normalizeIp(ip);
    if (!this.asn || !address) return { ip: address ?? ip };
    const [record, prefix] = this.asn.getWithPrefixLength(address);
    if (!record) return { ip: address };
    const out: NetResult = { ip: address };
    if (record.autonomous_system_number) out.asn = record.autonomous_system_number;
    if (record.autonomous_system_organization) out.asOrg = record.autonomous_system_organization;
    const cidr = networkOf(address, prefix);
    if (cidr) out.cidr = cidr;
    return out;
  }
}

async function openDatabase<T extends CityResponse | AsnResponse>(path: string, kind: string, type: RegExp): Promise<Reader<T>> {
  try {
    await stat(path);
  } catch (err) {
    throw new Error(`GeoIP ${kind} database ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let reader: Reader<T>;
  try {
    reader = await openMmdb<T>(path);
  } catch (err) {
    throw new Error(`GeoIP ${kind} database ${path} is not a readable MaxMind DB: ${(err as Error).message}`);
  }
  // A swapped pair of paths would otherwise quietly answer every lookup with nothing.
  if (!type.test(reader.metadata.databaseType)) {
    throw new Error(`GeoIP ${kind} database ${path} is a ${reader.metadata.databaseType} database, not a ${kind} one`);
  }
  return reader;
}

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';

/** Geohash (as NIP-52 and NIP-66 use it): bits alternate longitude, latitude, five to a character. */
export function geohash(lat: number, lon: number, precision = 9): string {
  const latRange: [number, number] = [-90, 90];
  const lonRange: [number, number] = [-180, 180];
  // One bit: which half of the range holds the value; the range shrinks to that half.
  const halve = (value: number, range: [number, number]): number => {
    const mid = (range[0] + range[1]) / 2;
    if (value >= mid) {
      range[0] = mid;
      return 1;
    }
    range[1] = mid;
    return 0;
  };
  let out = '';
  let bits = 0;
  let index = 0;
  let even = true;
  while (out.length < precision) {
    index = index * 2 + (even ? halve(lon, lonRange) : halve(lat, latRange));
    even = !even;
    if (++bits === 5) {
      out += BASE32[index];
      bits = 0;
      index = 0;
    }
  }
  return out;
}

// An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is looked up and reported as the IPv4 address it
// is; undefined for anything that is not an address.
function normalizeIp(ip: string): string | undefined {
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return undefined;
  const bytes = ipv6Bytes(ip);
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return [...bytes.subarray(12)].join('.');
  return canonicalIpv6(bytes);
}

function networkOf(ip: string, prefix: number): string | undefined {
  const v4 = isIPv4(ip);
  const bytes = v4 ? Uint8Array.from(ip.split('.').map(Number)) : ipv6Bytes(ip);
  if (prefix < 0 || prefix > bytes.length * 8) return undefined;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return `${v4 ? [...bytes].join('.') : canonicalIpv6(bytes)}/${prefix}`;
}

function ipv6Bytes(ip: string): Uint8Array {
  // The URL parser turns any valid form (dotted tail, upper case) into plain hex groups.
  const text = new URL(`http://[${ip}]`).hostname.slice(1, -1);
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}

function canonicalIpv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1); // RFC 5952 compression
}
