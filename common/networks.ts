import type { Network } from './relay-url.js';

/**
 * The task queue of a network's activities (probes, checks): one per network, `<base>-clearnet`,
 * `<base>-tor`, ..., each served by workers that can reach that network (the overlay ones through
 * its SOCKS5 proxy), whose activity limit is the network's concurrency. Workflows and database
 * activities stay on the base queue.
 */
export function networkQueue(baseQueue: string, network: Network): string {
  return `${baseQueue}-${network}`;
}

/**
 * The task queue of a network's sync activities, `<base>-clearnet-sync`, ...: apart from the
 * network's short checks, so that each worker reads at most `synchronizer.relays_in_flight`
 * relays at once, a window each (holding up to a chunk of events in memory), however many relays there are.
 */
export function syncQueue(baseQueue: string, network: Network): string {
  return `${networkQueue(baseQueue, network)}-sync`;
}
