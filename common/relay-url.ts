// Relay URL parsing and normalisation: one pure module, used by workflows and activities alike.
// It imports nothing: the WHATWG `URL` class (global in Node and in the workflow sandbox) does the
// RFC work (lower-case host, IDN to punycode, IPv4/IPv6 canonical forms, dot segments), and the
// rules below add what makes a URL a relay's identity, following the original BigBrotr:
//   - scheme wss:// for clearnet, ws:// for overlay networks (tor, i2p, loki);
//   - default ports dropped, query and fragment dropped (they do not name a different relay);
//   - slashes in the path collapsed, no trailing slash;
//   - local and private addresses rejected unless the caller allows them (tests do).

export const NETWORKS = ['clearnet', 'tor', 'i2p', 'loki'] as const;
export type Network = (typeof NETWORKS)[number];

export const MAX_RELAY_URL_LENGTH = 2048;

export interface RelayUrl {
  /** The canonical URL: the relay's identity everywhere in the system. */
  url: string;
  network: Network;
  /** True for a loopback or private address (only ever returned with `allowLocal`). */
  local: boolean;
}

/** `code` is short and stable (for counting rejections); `reason` names the culprit. */
export type RelayUrlFailure = { ok: false; code: string; reason: string };
export type RelayUrlResult = ({ ok: true } & RelayUrl) | RelayUrlFailure;

export interface RelayUrlOptions {
  /** Accept loopback and private addresses (tests run their relays on 127.0.0.1). */
  allowLocal?: boolean;
}

const BASE32 = /^[a-z2-7]+$/;
const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const PATH_SEGMENT = /^[A-Za-z0-9._~:@-]+$/;

export function parseRelayUrl(raw: unknown, options: RelayUrlOptions = {}): RelayUrlResult {
  if (typeof raw !== 'string') return fail('not-string', `not a string (${raw === null ? 'null' : typeof raw})`);
  const text = raw.trim();
  if (text === '') return fail('empty', 'empty');
  // Checked before parsing so that a 10 kB "URL" costs nothing more.
  if (text.length > MAX_RELAY_URL_LENGTH) {
    return fail('too-long', `too long (${text.length} characters, at most ${MAX_RELAY_URL_LENGTH})`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\s]/.test(text)) return fail('control-characters', 'contains whitespace or control characters');

  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return fail('no-scheme', 'no scheme (expected ws:// or wss://)');
  if (scheme !== 'ws' && scheme !== 'wss') return fail('bad-scheme', `unsupported scheme "${scheme}" (expected ws or wss)`);
  if (!/^wss?:\/\/[^/]/i.test(text)) return fail('no-host', 'missing "//" and host after the scheme');

  const port = /^wss?:\/\/(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/?#:]*):(\d*)(?=[/?#]|$)/i.exec(text)?.[1];
  if (port !== undefined && port !== '' && (Number(port) < 1 || Number(port) > 65535)) {
    return fail('bad-port', `port ${port} out of range (1-65535)`);
  }

  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return fail('malformed', 'malformed URL (host is not valid)');
  }
  if (parsed.username !== '' || parsed.password !== '') return fail('credentials', 'credentials in a relay URL are not allowed');

  const host = parsed.hostname.replace(/\.$/, '');
  if (host === '') return fail('no-host', 'no host');
  const kind = classifyHost(host);
  if (typeof kind === 'object') return fail(kind.code, kind.reason);
  const local = kind === 'local';
  if (local && !options.allowLocal) return fail('local', `local or private address "${host}" is not allowed`);
  const network: Network = local ? 'clearnet' : kind;

  const path = normalisePath(parsed.pathname);
  if (typeof path === 'object') return fail('bad-path', path.reason);

  // Overlay networks carry their own encryption: their relays are ws://. Clearnet relays are wss://
  // (as the original does). A local test relay keeps the scheme it was given.
  const finalScheme = local ? scheme : network === 'clearnet' ? 'wss' : 'ws';
  // The port as written: URL drops a port that is the default of the scheme *given*, but the
  // scheme may change (wss://x.onion:443 is ws://x.onion:443).
  const explicitPort = port ? Number(port) : undefined;
  const defaultPort = finalScheme === 'wss' ? 443 : 80;
  const portPart = explicitPort === undefined || explicitPort === defaultPort ? '' : `:${explicitPort}`;
  const url = `${finalScheme}://${host}${portPart}${path}`;
  if (url.length > MAX_RELAY_URL_LENGTH) {
    return fail('too-long', `too long once normalised (${url.length} characters, at most ${MAX_RELAY_URL_LENGTH})`);
  }
  return { ok: true, url, network, local };
}

/** The canonical form of a URL the caller knows is valid; throws with the reason otherwise. */
export function normaliseRelayUrl(raw: string, options: RelayUrlOptions = {}): string {
  const r = parseRelayUrl(raw, options);
  if (!r.ok) throw new Error(`invalid relay URL ${JSON.stringify(raw.slice(0, 200))}: ${r.reason}`);
  return r.url;
}

function fail(code: string, reason: string): RelayUrlFailure {
  return { ok: false, code, reason };
}

type HostKind = Network | 'local' | { code: string; reason: string };

function classifyHost(host: string): HostKind {
  if (host.startsWith('[')) {
    const bytes = ipv6Bytes(host.slice(1, -1));
    if (bytes === undefined) return { code: 'bad-host', reason: `invalid IPv6 address "${host}"` };
    return LOCAL_V6.some(([net, bits]) => inPrefix(bytes, net, bits)) ? 'local' : 'clearnet';
  }
  const v4 = ipv4Bytes(host);
  if (v4 !== undefined) return LOCAL_V4.some(([net, bits]) => inPrefix(v4, net, bits)) ? 'local' : 'clearnet';
  if (host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.localdomain') return 'local';

  const labels = host.split('.');
  const tld = labels.at(-1);
  const name = labels.slice(0, -1);
  if (tld === 'onion') {
    const id = name.at(-1) ?? '';
    // v3 addresses are 56 base32 characters; v2 (16) are dead but still appear in old events.
    if (!((id.length === 56 || id.length === 16) && BASE32.test(id))) {
      return { code: 'bad-onion', reason: `invalid onion address "${host}" (expected 56 base32 characters before .onion)` };
    }
    return validLabels(name.slice(0, -1)) ? 'tor' : { code: 'bad-onion', reason: `invalid onion subdomain in "${host}"` };
  }
  if (tld === 'i2p') {
    if (name.at(-1) === 'b32') {
      const id = name.at(-2) ?? '';
      return id.length === 52 && BASE32.test(id) && name.length === 2
        ? 'i2p'
        : { code: 'bad-i2p', reason: `invalid i2p b32 address "${host}" (expected 52 base32 characters before .b32.i2p)` };
    }
    return name.length > 0 && validLabels(name) ? 'i2p' : { code: 'bad-i2p', reason: `invalid i2p host "${host}"` };
  }
  if (tld === 'loki') {
    const id = name.at(-1) ?? '';
    return id.length === 52 && BASE32.test(id) && validLabels(name.slice(0, -1))
      ? 'loki'
      : { code: 'bad-loki', reason: `invalid loki address "${host}" (expected 52 base32 characters before .loki)` };
  }
  if (labels.length < 2) return { code: 'bad-host', reason: `host "${host}" has no top-level domain` };
  if (host.length > 253) return { code: 'bad-host', reason: `host name too long (${host.length} characters, at most 253)` };
  // (A numeric last label never gets here: URL reads such a host as an IPv4 address.)
  if (!validLabels(labels)) return { code: 'bad-host', reason: `invalid host name "${host}"` };
  return 'clearnet';
}

function validLabels(labels: string[]): boolean {
  return labels.every((l) => HOST_LABEL.test(l));
}

function normalisePath(pathname: string): string | { reason: string } {
  const segments = pathname.split('/').filter((s) => s !== '');
  for (const s of segments) {
    // `wss://a.com/wss://b.com` is two URLs glued together, not a path.
    if (s.endsWith(':')) return { reason: `path contains another URL ("${s}")` };
    if (!PATH_SEGMENT.test(s)) return { reason: `path segment "${s.slice(0, 50)}" has characters a relay path does not use` };
  }
  return segments.length === 0 ? '' : `/${segments.join('/')}`;
}

function ipv4Bytes(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** The 16 bytes of an IPv6 address as the URL class writes it (compressed, lower case). */
function ipv6Bytes(text: string): number[] | undefined {
  let words: string[];
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  let tail: number[] = [];
  const last = text.split(':').at(-1) ?? '';
  if (last.includes('.')) {
    const v4 = ipv4Bytes(last);
    if (!v4) return undefined;
    tail = v4;
    text = text.slice(0, -last.length) + '0:0';
  }
  const [head, rest] = text.split('::');
  const a = head ? head.split(':') : [];
  const b = rest ? rest.split(':') : [];
  if (halves.length === 2) words = [...a, ...Array<string>(8 - a.length - b.length).fill('0'), ...b];
  else words = a;
  if (words.length !== 8 || !words.every((w) => /^[0-9a-f]{1,4}$/.test(w))) return undefined;
  const bytes = words.flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 255]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function inPrefix(bytes: number[], net: number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if (((bytes[byte] ?? 0) & mask) !== ((net[byte] ?? 0) & mask)) return false;
  }
  return true;
}

// The IANA special-purpose ranges: nothing on them is a public relay.
const LOCAL_V4: Array<[number[], number]> = [
  [[0, 0, 0, 0], 8], [[10, 0, 0, 0], 8], [[100, 64, 0, 0], 10], [[127, 0, 0, 0], 8],
  [[169, 254, 0, 0], 16], [[172, 16, 0, 0], 12], [[192, 0, 0, 0], 24], [[192, 0, 2, 0], 24],
  [[192, 88, 99, 0], 24], [[192, 168, 0, 0], 16], [[198, 18, 0, 0], 15], [[198, 51, 100, 0], 24],
  [[203, 0, 113, 0], 24], [[224, 0, 0, 0], 4], [[240, 0, 0, 0], 4],
];
const v6 = (text: string) => ipv6Bytes(text) as number[];
// Ranges that embed or tunnel to IPv4 addresses are refused whole in a relay URL: IPv4-compatible
// (::/96, with :: and ::1), IPv4-mapped, IPv4-translated (::ffff:0:0:0/96), NAT64 (well-known and
// local-use), Teredo (2001::/32) and 6to4 (2002::/16, deprecated by RFC 7526) can all reach a private one.
const LOCAL_V6: Array<[number[], number]> = [
  [v6('::'), 96], [v6('::ffff:0:0'), 96], [v6('::ffff:0:0:0'), 96], [v6('64:ff9b::'), 96],
  [v6('64:ff9b:1::'), 48], [v6('100::'), 64], [v6('2001::'), 32], [v6('2001:2::'), 48],
  [v6('2001:db8::'), 32], [v6('2001:10::'), 28], [v6('2002::'), 16], [v6('3fff::'), 20],
  [v6('5f00::'), 16], [v6('fc00::'), 7], [v6('fe80::'), 10], [v6('fec0::'), 10], [v6('ff00::'), 8],
];
// An address of these stands for the IPv4 address in its last 32 bits (the host's own stack maps
// it; a NAT64 gateway translates it, and DNS64 answers with it for IPv4-only names), so a
// connection to one is judged by that IPv4 address.
const IPV4_EMBEDDING: Array<[number[], number]> = [[v6('::ffff:0:0'), 96], [v6('64:ff9b::'), 96]];

/** The IPv4 address (dotted) an IPv4-mapped or NAT64 (64:ff9b::/96) IPv6 address stands for, else undefined. */
export function embeddedIpv4(ipv6: string): string | undefined {
  const bytes = ipv6Bytes(ipv6.toLowerCase());
  if (!bytes || !IPV4_EMBEDDING.some(([net, bits]) => inPrefix(bytes, net, bits))) return undefined;
  return bytes.slice(12).join('.');
}
