import type { Network } from './relay-url.js';

/**
 * The task queue of a network's activities: clearnet activities share the workflows' queue,
 * each overlay network has its own, served by workers that have its SOCKS5 proxy.
 */
export function networkQueue(baseQueue: string, network: Network): string {
  return network === 'clearnet' ? baseQueue : `${baseQueue}-${network}`;
}
