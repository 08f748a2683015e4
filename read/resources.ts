// Every resource by name: the one table the API's routes and the DVM's requests are read against.
import { addressable, event, eventRelays, events, replaceable } from './events.js';
import { relay, relayMetadata, relays } from './relays.js';
import type { Resource } from './resource.js';
import { days, kinds, networks, nips, pubkey, pubkeys, software, summary } from './stats.js';

export const RESOURCE_TABLE = {
  relays,
  relay,
  relay_metadata: relayMetadata,
  events,
  event,
  event_relays: eventRelays,
  kinds,
  pubkeys,
  pubkey,
  days,
  networks,
  software,
  nips,
  replaceable,
  addressable,
  summary,
} as const satisfies Record<string, Pick<Resource, 'params' | 'output' | 'paged' | 'summary'>>;

export type ResourceName = keyof typeof RESOURCE_TABLE;
export const RESOURCES = Object.keys(RESOURCE_TABLE) as readonly ResourceName[];

export function isResourceName(name: string): name is ResourceName {
  return Object.hasOwn(RESOURCE_TABLE, name);
}
