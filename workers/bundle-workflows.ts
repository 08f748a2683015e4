// `npm run build:workflows`: bundles the workflow code once into .build/workflow-bundle.js, so a
// production worker loads it instead of running webpack at start-up (faster, and ~150 MB less
// peak memory per worker). start-workers runs it first; the worker refuses a stale bundle.
import { bundleWorkflows, WORKFLOW_BUNDLE_PATH, writeWorkflowBundle } from './worker.js';

const { code } = await bundleWorkflows();
writeWorkflowBundle(code); // two workers started at once on one machine each build it
console.log(`[bigbrotr] workflow bundle: ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1e6).toFixed(1)} MB)`);
