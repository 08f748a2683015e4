// Workflow inputs: plain JSON whose fields are all optional, so an operator can start any workflow
// from the Web UI's "Start Workflow" form with `{}`. Workflows cannot read the config file, so an
// absent field is passed on as absent and the activity applies the deployment's default.
import { z } from 'zod';

export const seederInput = z
  .strictObject({
    /** Seed file path, relative to the config folder; default: config `seeder.file`. */
    file: z.string().min(1).optional(),
    /** Rows per INSERT; default: config `seeder.batch_size`. */
    batchSize: z.number().int().min(1).max(100_000).optional(),
  })
  .default({});
export type SeederInput = z.infer<typeof seederInput>;
