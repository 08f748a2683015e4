import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../workers/config.js';

const dir = mkdtempSync(join(tmpdir(), 'bigbrotr-config-'));
function file(text: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe('config', () => {
  it('loads the shipped bigbrotr config with its defaults', () => {
    const c = loadConfig({}, DEFAULT_CONFIG);
    assert.equal(c.deployment, 'bigbrotr');
    assert.equal(c.temporal.task_queue, 'bigbrotr');
    assert.equal(c.relay_url.allow_local, false);
    assert.ok(c.seeder.batch_size > 0);
    assert.equal(c.database.url, '');
  });

  it('takes DATABASE_URL, TEMPORAL_ADDRESS and BIGBROTR__section__key from the environment', () => {
    const c = loadConfig(
      { DATABASE_URL: 'postgres://x@db/y', TEMPORAL_ADDRESS: 'temporal:7233', BIGBROTR__seeder__batch_size: '250', BIGBROTR__RELAY_URL__ALLOW_LOCAL: 'true' },
      DEFAULT_CONFIG,
    );
    assert.equal(c.database.url, 'postgres://x@db/y');
    assert.equal(c.temporal.address, 'temporal:7233');
    assert.equal(c.seeder.batch_size, 250);
    assert.equal(c.relay_url.allow_local, true);
  });

  it('names the field, the value and what is allowed', () => {
    assert.throws(() => loadConfig({ BIGBROTR__seeder__batch_size: '-5' }, DEFAULT_CONFIG), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /seeder\.batch_size = -5: .*>=1/);
      assert.match(err.message, /BIGBROTR__seeder__batch_size/);
      return true;
    });
    assert.throws(() => loadConfig({}, file('deployment: tinybrotr\ndatabase: {}\ntemporal: {}\nseeder: {file: x}\n')),
      /deployment = "tinybrotr": .*bigbrotr.*lilbrotr/);
    assert.throws(() => loadConfig({}, file('deployment: bigbrotr\ndatabase: {}\ntemporal: {}\nseeder: {file: x}\nsedeer: {}\n')),
      /sedeer/);
  });

  it('says which file is missing or not YAML', () => {
    assert.throws(() => loadConfig({}, join(dir, 'nope.yaml')), /config file not found: .*nope\.yaml/);
    assert.throws(() => loadConfig({}, file('deployment: [bigbrotr\n')), /not valid YAML/);
  });
});
