// The monitor's NIP-66 events, built from what it measured: kind 30166 relay discovery per relay,
// kind 10166 monitor announcement, and the kind 0 profile and kind 10002 relay list the NIP asks
// monitors to publish. Pure: the publishing activity signs (nostr-tools) and sends them.
// NIP-66 has tags for the round-trip times but none for uptime or for a check's failure: those are
// kept in relay_check and read through the relay_uptime view, and no tag is invented for them. A
// relay whose open succeeded and whose read failed still gets its rtt-open.
import type { EventTemplate } from 'nostr-tools';
import type { Network } from '../../common/index.js';

export const DISCOVERY_KIND = 30166;
export const ANNOUNCEMENT_KIND = 10166;

/** What the monitor knows of one relay after a cycle: the documents it stored, as stored. */
export interface RelayObservation {
  url: string;
  network: Network;
  nip11?: Record<string, unknown>;
  rtt?: { rtt_open?: number; rtt_read?: number; rtt_write?: number; read_answer?: string; write_accepted?: boolean; write_message?: string };
  ssl?: { verified?: boolean; validTo?: number; issuer?: string };
  dns?: { a?: string[]; aaaa?: string[]; ttl?: number };
  geo?: { country?: string; city?: string; region?: string; tz?: string; geohash?: string };
  net?: { ip?: string; asn?: number; asOrg?: string };
  http?: { server?: string; powered_by?: string };
}

type Tag = string[];

export function discoveryEvent(o: RelayObservation, createdAt: number): EventTemplate {
  const tags: Tag[] = [['d', o.url], ['n', o.network]];
  const rtt = o.rtt ?? {};
  for (const k of ['rtt_open', 'rtt_read', 'rtt_write'] as const) {
    const v = rtt[k];
    if (typeof v === 'number') tags.push([k.replace('_', '-'), String(Math.round(v))]);
  }
  const nip11 = o.nip11 ?? {};
  const limitation = (isObject(nip11.limitation) ? nip11.limitation : {}) as Record<string, unknown>;
  for (const nip of numbers(nip11.supported_nips)) tags.push(['N', String(nip)]);
  tags.push(...requirements(limitation, rtt).map((r) => ['R', r]));
  tags.push(...relayTypes(nip11, limitation).map((t) => ['T', t]));
  for (const t of strings(nip11.tags)) tags.push(['t', t]);
  for (const kind of refusedKinds(nip11.retention)) tags.push(['k', `!${kind}`]);
  for (const lang of strings(nip11.language_tags)) tags.push(['l', lang, 'ISO-639-1']);

  if (o.ssl) {
    tags.push(['ssl', o.ssl.verified ? 'valid' : '!valid']);
    if (o.ssl.validTo) tags.push(['ssl-expires', String(o.ssl.validTo)]);
    if (o.ssl.issuer) tags.push(['ssl-issuer', o.ssl.issuer]);
  }
  if (o.net?.ip) tags.push(['net-ip', o.net.ip]);
  if (o.net?.asn) tags.push(['net-asn', String(o.net.asn)], ['l', String(o.net.asn), 'IANA-asn']);
  if (o.net?.asOrg) tags.push(['net-asn-org', o.net.asOrg], ['l', o.net.asOrg, 'IANA-asnOrg']);
  if (o.geo?.geohash) tags.push(['g', o.geo.geohash]);
  if (o.geo?.country) tags.push(['geo-country', o.geo.country], ['l', o.geo.country, 'ISO-3166-1']);
  if (o.geo?.city) tags.push(['geo-city', o.geo.city], ['l', o.geo.city, 'nip66.label.city']);
  if (o.geo?.tz) tags.push(['l', o.geo.tz, 'IANA-tz']);
  for (const ip of [...(o.dns?.a ?? []), ...(o.dns?.aaaa ?? [])]) tags.push(['dns-ip', ip]);
  if (typeof o.dns?.ttl === 'number') tags.push(['dns-ttl', String(o.dns.ttl)]);
  if (o.http?.server) tags.push(['http-server', o.http.server]);
  if (o.http?.powered_by) tags.push(['http-powered-by', o.http.powered_by]);

  return { kind: DISCOVERY_KIND, created_at: createdAt, tags, content: o.nip11 ? JSON.stringify(o.nip11) : '' };
}

/**
 * `R` tags: what the probes saw wins over what the NIP-11 document claims (a relay that asked the
 * read probe to authenticate requires auth whatever its document says).
 */
function requirements(limitation: Record<string, unknown>, rtt: NonNullable<RelayObservation['rtt']>): string[] {
  const sawAuth = rtt.read_answer === 'auth' || rtt.read_answer === 'auth-required' || /^auth-required:/.test(rtt.write_message ?? '');
  const auth = sawAuth || limitation.auth_required === true;
  const payment = /^payment-required:/.test(rtt.write_message ?? '') || limitation.payment_required === true;
  const writes = /^(restricted|blocked):/.test(rtt.write_message ?? '') || limitation.restricted_writes === true;
  const pow = /^pow:/.test(rtt.write_message ?? '') || (typeof limitation.min_pow_difficulty === 'number' && limitation.min_pow_difficulty > 0);
  return [auth ? 'auth' : '!auth', payment ? 'payment' : '!payment', writes ? 'writes' : '!writes', pow ? 'pow' : '!pow'];
}

/** Relay types (PascalCase, as in the NIP's linked list) inferred from the document, as the original does. */
function relayTypes(nip11: Record<string, unknown>, limitation: Record<string, unknown>): string[] {
  const nips = new Set(numbers(nip11.supported_nips));
  const types: string[] = [];
  if (nips.has(50)) types.push('Search');
  if (nips.has(29)) types.push('Community');
  if (limitation.payment_required === true) types.push('Paid');
  if (limitation.auth_required === true && limitation.restricted_writes === true) types.push('PrivateInbox');
  else if (limitation.restricted_writes === true) types.push('PublicOutbox');
  else types.push('PublicInbox');
  return types;
}

/** Kinds the relay says it keeps for no time at all (NIP-11 `retention` with `time: 0`). */
function refusedKinds(retention: unknown): number[] {
  if (!Array.isArray(retention)) return [];
  return retention.filter((r) => isObject(r) && r.time === 0).flatMap((r) => numbers((r as Record<string, unknown>).kinds));
}

export interface AnnouncementSettings {
  frequencySec: number;
  checks: string[];
  timeouts: Record<string, number>;
  geohash?: string;
}

export function announcementEvent(s: AnnouncementSettings, createdAt: number): EventTemplate {
  const tags: Tag[] = [['frequency', String(s.frequencySec)]];
  for (const [check, ms] of Object.entries(s.timeouts)) tags.push(['timeout', check, String(ms)]);
  for (const c of s.checks) tags.push(['c', c]);
  if (s.geohash) tags.push(['g', s.geohash]);
  return { kind: ANNOUNCEMENT_KIND, created_at: createdAt, tags, content: '' };
}

export function profileEvent(profile: { name: string; about: string; picture?: string; website?: string }, createdAt: number): EventTemplate {
  return { kind: 0, created_at: createdAt, tags: [], content: JSON.stringify(profile) };
}

export function relayListEvent(relays: string[], createdAt: number): EventTemplate {
  return { kind: 10002, created_at: createdAt, tags: relays.map((r) => ['r', r]), content: '' };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
function numbers(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x)) : [];
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}
