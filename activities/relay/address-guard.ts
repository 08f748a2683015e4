// The address guard: keeps the workers' connections (relay WebSockets, NIP-11 fetches, every
// redirect hop, the Finder's API sources) off loopback, private, link-local, CGNAT, multicast,
// unspecified, broadcast and cloud metadata addresses, so that a relay URL or a redirect cannot
// turn a worker into a probe of its own network (a NIP-11 answer redirecting to 169.254.169.254
// would otherwise be stored as the relay's document).
//
// The check runs on the address that is connected to, not on the name: a custom `lookup` for
// http/https/ws filters what DNS answers before the socket connects, so a name cannot resolve to a
// public address when checked and to a private one when used. Node skips `lookup` for IP literals,
// so those are checked before connecting. A SOCKS5 proxy resolves names itself (overlay networks):
// no local lookup happens, so literals and `localhost` names are refused before asking it, and a
// redirect may not leave the overlay network the request began on (a .onion page redirecting to
// http://internal.example/ would have the proxy connect inside the network it runs in).
//
// Which ranges are local is common/relay-url.ts's knowledge (parseRelayUrl refuses them with code
// 'local'): it is asked here, not repeated.
import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { embeddedIpv4, parseRelayUrl, type Network } from '../../common/relay-url.js';

export interface AddressGuard {
  /** relay_url.allow_local: true turns every check off (tests run their relays on 127.0.0.1). */
  allowLocal: boolean;
  /**
   * An origin (`http://127.0.0.1:8080`) the guard lets through: an address the operator wrote into
   * the config (a Finder API on the local network) is meant; where it redirects to is still checked.
   */
  trustedOrigin?: string;
  /** The resolver whose answers are checked (default dns.lookup); tests inject one. */
  lookup?: LookupFunction;
}

/** A connection the guard refused; `address` is what the host is or resolved to. */
export class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
  readonly code = 'EBLOCKEDADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly kind: string,
  ) {
    super(host === address ? `${address} is ${kind}` : `${host} resolves to ${address}, ${kind}`);
  }
}

// Not just link-local and private: the address credentials are served on.
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254']);

/**
 * Why an IP address must not be connected to ('the cloud metadata address', 'a local, private or
 * special-purpose address'), or undefined when it may be (and for anything that is not an IP
 * address: names are checked once resolved). IPv4-mapped IPv6 (::ffff:10.0.0.1) and NAT64
 * (64:ff9b::10.0.0.1) are judged by their IPv4 address; a zone (fe80::1%eth0) is ignored.
 */
export function blockedAddress(address: string): string | undefined {
  let ip = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '').toLowerCase();
  const version = isIP(ip);
  if (version === 0) return undefined;
  if (version === 6) {
    // The URL class writes an IPv6 address canonically (FD00:EC2:0::254 becomes fd00:ec2::254).
    const canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
    ip = embeddedIpv4(canonical) ?? canonical;
  }
  if (METADATA.has(ip)) return 'the cloud metadata address';
  const r = parseRelayUrl(`ws://${isIP(ip) === 6 ? `[${ip}]` : ip}/`);
  // Any other refusal of an address that is an IP cannot happen; were it to, refusing is the safe side.
  return r.ok ? undefined : 'a local, private or special-purpose address';
}

/** True when `host` (a name or an IP literal, brackets allowed) is local by itself: a local IP or `localhost`. */
export function isLocalHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(h) !== 0) return blockedAddress(h) !== undefined;
  const r = parseRelayUrl(`ws://${h}/`);
  return !r.ok && r.code === 'local';
}

/** The guard that applies to a connection to `url`, or undefined when none does (absent, allowLocal, trusted origin). */
function activeGuard(url: URL, guard: AddressGuard | undefined): AddressGuard | undefined {
  if (!guard || guard.allowLocal) return undefined;
  if (guard.trustedOrigin !== undefined && url.origin === guard.trustedOrigin) return undefined;
  return guard;
}

/**
 * What a connection to `url` is allowed: `error` when its host is a refused IP literal (nothing is
 * sent), else the `lookup` to connect with (undefined: none needed, as through a SOCKS5 proxy,
 * which resolves names itself, or when no guard applies).
 */
export function guardConnection(
  url: URL,
  guard: AddressGuard | undefined,
  viaProxy: boolean,
): { error: BlockedAddressError } | { error?: undefined; lookup?: LookupFunction } {
  const active = activeGuard(url, guard);
  if (!active) return {};
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const kind = blockedAddress(host);
  if (kind) return { error: new BlockedAddressError(host, host, kind) };
  // The proxy would resolve it on its own host.
  if (viaProxy && isLocalHost(host)) return { error: new BlockedAddressError(host, host, 'a local name') };
  if (viaProxy || isIP(host) !== 0) return {};
  return { lookup: guardedLookup(active.lookup) };
}

/**
 * Why a redirect from `first` (the URL a request began with) to `hop` is refused, or undefined:
 * from an overlay network (tor, i2p, loki), only hops on that same network are allowed. Through
 * its proxy a clearnet name is resolved where the proxy runs, where no lookup of ours can check it.
 */
export function guardRedirect(first: URL, hop: URL, guard: AddressGuard | undefined): BlockedAddressError | undefined {
  if (!activeGuard(hop, guard)) return undefined;
  const from = networkOf(first.hostname);
  if (from === undefined || from === 'clearnet') return undefined;
  if (networkOf(hop.hostname) === from) return undefined;
  const host = hop.hostname.replace(/^\[(.*)\]$/, '$1');
  return new BlockedAddressError(host, host, `off the ${from} network the request began on`);
}

/** The network of a host (tor for a valid .onion, ...; a local host is clearnet), undefined for a host no relay URL could have. */
function networkOf(host: string): Network | undefined {
  const r = parseRelayUrl(`ws://${host}/`, { allowLocal: true });
  return r.ok ? r.network : undefined;
}

/**
 * A `lookup` for net/tls/http/ws that resolves with `base` and hands on only the addresses the
 * guard allows (a name with public and private addresses is connected to on its public ones);
 * none left: a BlockedAddressError, which the connection emits as its 'error'.
 */
export function guardedLookup(base: LookupFunction = dns.lookup as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, { ...options, all: true }, (err, addresses, family) => {
      if (err) return callback(err, options.all ? [] : '');
      const list = Array.isArray(addresses) ? addresses : [{ address: addresses, family: family ?? isIP(addresses) }];
      const allowed = list.filter((a) => blockedAddress(a.address) === undefined);
      const first = allowed[0];
      if (!first) {
        const refused = list[0];
        const error = refused
          ? new BlockedAddressError(hostname, refused.address, blockedAddress(refused.address)!)
          : Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
        return callback(error, options.all ? [] : '');
      }
      if (options.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}
