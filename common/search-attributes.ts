// The custom search attributes a relay's workflows are started with (`validate/<url>`,
// `monitor/<url>`, `sync/<url>`), so that the Web UI's search finds one relay's workflows by its
// URL and network: `RelayUrl = "wss://relay.example.com"`, `RelayNetwork = "tor"`,
// `BigBrotrService = "monitor"`. A namespace knows them only once they are registered (the dev
// server of `npm start` registers them; in production: README, "Operating it from the Web UI"), and a start
// that names an unknown one is refused: they are set only where the namespace has them all.
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { Network } from './relay-url.js';

export const RELAY_URL = defineSearchAttributeKey('RelayUrl', SearchAttributeType.KEYWORD);
export const RELAY_NETWORK = defineSearchAttributeKey('RelayNetwork', SearchAttributeType.KEYWORD);
export const BIGBROTR_SERVICE = defineSearchAttributeKey('BigBrotrService', SearchAttributeType.KEYWORD);

/** Every one of them: what a server is given to register (`--search-attribute Name=Keyword`). */
export const SEARCH_ATTRIBUTES = [RELAY_URL, RELAY_NETWORK, BIGBROTR_SERVICE];

/** What one relay's workflow of `service` is started with. */
export function relaySearchAttributes(service: string, url: string, network: Network): SearchAttributePair[] {
  return [
    { key: RELAY_URL, value: url },
    { key: RELAY_NETWORK, value: network },
    { key: BIGBROTR_SERVICE, value: service },
  ];
}
