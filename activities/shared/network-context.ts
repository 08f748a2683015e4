// What a service's activities on a network's task queue are built with (common/networks.ts): that
// network's timeout and SOCKS5 proxy, and why the network cannot be reached here when it cannot.
import type { Agent } from 'node:http';
import type { Network } from '../../common/index.js';
import type { Config } from '../../common/config.js';
import type { Db } from '../db/db.js';
import { socksAgent } from '../relay/relay-socket.js';

export interface NetworkDeps {
  config: Config;
  network: Network;
  db: Db;
}

export interface NetworkContext extends NetworkDeps {
  timeout: number;
  /** The SOCKS5 proxy's agent, for an overlay network. */
  agent: Agent | undefined;
  /** Set when this worker has no proxy for the (overlay) network: its activities answer with it. */
  unreachable: string | undefined;
  /** The address guard's setting (relay_url.allow_local). */
  guard: { allowLocal: boolean };
}

export function networkContext({ config, network, db }: NetworkDeps): NetworkContext {
  const { timeout, proxy } = config.networks[network];
  const agent = proxy ? socksAgent(proxy) : undefined;
  const unreachable = network !== 'clearnet' && !agent ? `no SOCKS5 proxy is configured for ${network} (networks.${network}.proxy)` : undefined;
  return { config, network, db, timeout, agent, unreachable, guard: { allowLocal: config.relay_url.allow_local } };
}
