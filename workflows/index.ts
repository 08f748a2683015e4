// Every workflow the worker serves: the worker bundles this file.
export { finder, finderStatus, runNow } from './finder.js';
export { monitor, monitorRelay, monitorRelayStatus } from './monitor.js';
export { refresher } from './refresher.js';
export { seeder } from './seeder.js';
export { synchronizer, syncRelay, syncStatus } from './sync.js';
export { coordinatorStatus, runNow as coordinatorRunNow } from './coordinator.js';
export { validateCandidate, validator } from './validator.js';
export { dvm, dvmJob, dvmStatus } from './dvm.js';
