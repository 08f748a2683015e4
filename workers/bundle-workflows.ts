// `npm run build:workflows`: bundles the workflow code once into .build/workflow-bundle.js, so a
// production worker loads it instead of running webpack at start-up (faster, and ~150 MB less
// peak memory per worker). start-workers runs it first; the worker refuses a stale bundle.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflows, WORKFLOW_BUNDLE_PATH } from './worker.js';

const { code } = await bundleWorkflows();
mkdirSync(dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
// Written aside, then renamed into place: two workers started at once on one machine each build it,
// and neither may load the other's half-written file.
const tmp = `${WORKFLOW_BUNDLE_PATH}.${process.pid}.tmp`;
writeFileSync(tmp, code);
renameSync(tmp, WORKFLOW_BUNDLE_PATH);
console.log(`[bigbrotr] workflow bundle: ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1e6).toFixed(1)} MB)`);
