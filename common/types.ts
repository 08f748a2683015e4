/** What the Seeder did: returned by its activity and its workflow, shown in the Web UI. */
export interface SeedReport {
  file: string;
  /** Lines that hold a URL (comments and blank lines are not counted). */
  read: number;
  valid: number;
  invalid: number;
  /** Reason → how many URLs were rejected for it. */
  invalidReasons: Record<string, number>;
  /** A few rejected lines with their reasons, for the operator to look at. */
  invalidSamples: Array<{ line: number; url: string; reason: string }>;
  inserted: number;
  /** Valid URLs already in the candidates or relays (or repeated within the file). */
  alreadyKnown: number;
}

export interface SchemaCheck {
  complete: boolean;
  missing: string[];
}
