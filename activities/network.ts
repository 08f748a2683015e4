// The activities that talk to relays, one set per network: each runs on its network's task queue
// (common/networks.ts), built with that network's timeout and SOCKS5 proxy (network-context.ts).
// Each service's part lives with the service: the Validator's probe, the Monitor's check, the
// Synchronizer's windows; the worker serves them together on the network's queues.
import { createCheckActivities } from './monitor/check.js';
import { networkContext, type NetworkDeps } from './shared/network-context.js';
import { createSyncWindowActivities } from './synchronizer/windows.js';
import { createProbeActivities } from './validator/probe.js';

export type { NetworkDeps };

export const createNetworkActivities = (deps: NetworkDeps) => {
  const ctx = networkContext(deps);
  return { ...createProbeActivities(ctx), ...createCheckActivities(ctx), ...createSyncWindowActivities(ctx) };
};

export type NetworkActivities = ReturnType<typeof createNetworkActivities>;
