// The pure module shared by workflows and activities: imports only zod and @temporalio/common.
export * from './backoff.js';
export * from './counts.js';
export * from './duration.js';
export * from './errors.js';
export * from './inputs.js';
export * from './networks.js';
export * from './pool.js';
export * from './refresher.js';
export * from './relay-url.js';
export * from './types.js';
export * from './storable.js';
