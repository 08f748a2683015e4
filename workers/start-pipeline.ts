// `npm run start-pipeline`: starts the pipeline's workflows on TEMPORAL_ADDRESS (fixed IDs; those
// already running are left alone). `npm start` does this itself; production runs it once, or
// starts the workflows from the Web UI.
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from './config.js';
import { StartupError } from './errors.js';
import { runMain, say } from './main.js';
import { startPipeline } from './pipeline.js';

runMain(async () => {
  const config = loadConfig();
  const address = config.temporal.address || 'localhost:7233';
  const connection = await Connection.connect({ address }).catch((err: Error) => {
    throw new StartupError(`cannot reach Temporal at ${address}: ${err.message}; set TEMPORAL_ADDRESS`);
  });
  try {
    const outcomes = await startPipeline(new Client({ connection, namespace: config.temporal.namespace }), config);
    for (const [id, outcome] of Object.entries(outcomes)) say(`workflow ${id}: ${outcome}`);
  } finally {
    await connection.close();
  }
});
