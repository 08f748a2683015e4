import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, loadConfig, type Config } from '../../workers/config.js';

/** The shipped config on the test database, its relative paths resolved from a temporary folder. */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  const config = loadConfig({ DATABASE_URL: databaseUrl, ...env }, DEFAULT_CONFIG);
  return { ...config, dir: mkdtempSync(join(tmpdir(), 'bigbrotr-test-config-')) };
}

/** testConfig for tests against relays on 127.0.0.1: local relay URLs allowed, 700 ms for a relay to answer. */
export function localRelayConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  const base = testConfig(databaseUrl, { BIGBROTR__relay_url__allow_local: 'true', ...env });
  return { ...base, networks: { ...base.networks, clearnet: { ...base.networks.clearnet, timeout: 700 } } };
}

/** Writes `text` as `name` in the config's folder. */
export function writeSeedFile(config: Config, name: string, text: string): string {
  const path = join(config.dir, name);
  writeFileSync(path, text);
  return path;
}
