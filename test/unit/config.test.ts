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

  it('refuses an interval of 0, and each duration below its minimum, naming the key, the value and the rule', () => {
    const refused = (name: string, value: string, field: string, rule: RegExp) =>
      assert.throws(() => loadConfig({ [name]: value }, DEFAULT_CONFIG), (err: Error) => {
        assert.ok(err instanceof ConfigError, name);
        const line = err.message.split('\n').find((l) => l.trim().startsWith(`${field} =`));
        assert.ok(line, `${field} named in:\n${err.message}`);
        assert.match(line, rule, name);
        return true;
      }, name);
    // intervals: a hot loop below the minimum
    refused('BIGBROTR__monitor__interval', '0', 'monitor.interval', /^ {2}monitor\.interval = 0: must be >= 1m: a shorter interval is a hot loop$/);
    refused('BIGBROTR__monitor__interval', '59s', 'monitor.interval', /= "59s": must be >= 1m/);
    refused('BIGBROTR__validator__interval', '0s', 'validator.interval', /= "0s": must be >= 1m/);
    refused('BIGBROTR__finder__interval', '0', 'finder.interval', />= 1m/);
    refused('BIGBROTR__synchronizer__interval', '9s', 'synchronizer.interval', /= "9s": must be >= 10s/);
    refused('BIGBROTR__synchronizer__priority_interval', '0', 'synchronizer.priority_interval', />= 10s/);
    refused('BIGBROTR__synchronizer__pass_interval', '0', 'synchronizer.pass_interval', />= 1m/);
    refused('BIGBROTR__synchronizer__gap_retry', '0', 'synchronizer.gap_retry', />= 1m/);
    refused('BIGBROTR__synchronizer__refused_retry', '1s', 'synchronizer.refused_retry', />= 1m/);
    // timeouts: >= 100 ms
    refused('BIGBROTR__networks__clearnet__timeout', '0', 'networks.clearnet.timeout', /= 0: must be >= 100ms: a shorter timeout fails every request/);
    refused('BIGBROTR__networks__tor__timeout', '99ms', 'networks.tor.timeout', />= 100ms/);
    refused('BIGBROTR__finder__api_timeout', '0', 'finder.api_timeout', />= 100ms/);
    // sizes: >= 1 (windows: whole seconds)
    refused('BIGBROTR__synchronizer__max_window', '500ms', 'synchronizer.max_window', /= "500ms": must be >= 1s/);
    refused('BIGBROTR__monitor__page_size', '0', 'monitor.page_size', /= 0: .*>=1/);
    refused('BIGBROTR__synchronizer__limit', '0', 'synchronizer.limit', />=1/);
    refused('BIGBROTR__finder__api_max_bytes', '0', 'finder.api_max_bytes', />=1/);
    refused('BIGBROTR__networks__clearnet__concurrency', '0', 'networks.clearnet.concurrency', />=1/);
    refused('BIGBROTR__database__pool_max', '0', 'database.pool_max', />=1/);
    // the minimums themselves are accepted
    const c = loadConfig(
      {
        BIGBROTR__monitor__interval: '1m', BIGBROTR__synchronizer__interval: '10s', BIGBROTR__synchronizer__priority_interval: '10s',
        BIGBROTR__networks__clearnet__timeout: '100ms', BIGBROTR__synchronizer__end_lag: '0',
      },
      DEFAULT_CONFIG,
    );
    assert.equal(c.monitor.interval, 60_000);
    assert.equal(c.synchronizer.priority_interval, 10_000);
    assert.equal(c.networks.clearnet.timeout, 100);
    assert.equal(c.synchronizer.end_lag, 0, 'a lag of 0 is no loop: allowed');
  });

  it('never prints a secret, not even a malformed one: the key and the rule, not the value', () => {
    const key = 'C0FFEE'.repeat(10) + 'ABCD'; // 64 characters, upper case: refused
    for (const section of ['monitor', 'synchronizer']) {
      assert.throws(() => loadConfig({ [`BIGBROTR__${section}__private_key`]: key }, DEFAULT_CONFIG), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`${section}\\.private_key = \\(hidden: 64 characters\\): expected 64 lower-case hex`));
        assert.ok(!err.message.includes(key), `the key is not in:\n${err.message}`);
        assert.ok(!err.message.includes('C0FFEE'), 'not even a part of it');
        return true;
      });
    }
    // a key that YAML reads as a number, a key under a misspelt name, a section that is not a mapping
    const digits = '1234567890'.repeat(3);
    for (const [env, shown] of [
      [{ BIGBROTR__monitor__private_key: digits }, /monitor\.private_key = \(hidden: a number\): /],
      [{ BIGBROTR__monitor__privat_key: key }, /monitor\.privat_key: not a known key/],
      [{ BIGBROTR__synchronizer__private_key: `[${key}]` }, /synchronizer\.private_key = \(hidden: a list\)/],
    ] as const) {
      assert.throws(() => loadConfig(env, DEFAULT_CONFIG), (err: Error) => {
        assert.match(err.message, shown);
        assert.ok(!err.message.includes(key) && !err.message.includes(digits.slice(0, 12)), err.message);
        return true;
      });
    }
    // a section whose value is wrong as a whole: its secrets are hidden inside it
    assert.throws(
      () => loadConfig({}, file(`deployment: bigbrotr\ndatabase: {}\ntemporal: {}\nseeder: {file: x}\nnetworks: [{private_key: ${key}, proxy: "socks5h://u:hunter2@h:1"}]\n`)),
      (err: Error) => {
        assert.match(err.message, /networks = \[\{"private_key":"\(hidden: 64 characters\)","proxy":"socks5h:\/\/u:\*\*\*@h:1"\}\]: /);
        assert.ok(!err.message.includes(key) && !err.message.includes('hunter2'), err.message);
        return true;
      },
    );
    // a database URL's password
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgress://bigbrotr:s3cret-pw@db:5432/bigbrotr' }, DEFAULT_CONFIG), (err: Error) => {
      assert.match(err.message, /database\.url = "postgress:\/\/bigbrotr:\*\*\*@db:5432\/bigbrotr": expected a URL like postgres:/);
      assert.ok(!err.message.includes('s3cret-pw'), err.message);
      return true;
    });
    // YAML that does not parse: its message quotes the line, which is left out
    assert.throws(() => loadConfig({}, file(`deployment: bigbrotr\nmonitor: {private_key: "${key}\n`)), (err: Error) => {
      assert.match(err.message, /is not valid YAML: /);
      assert.ok(!err.message.includes(key), err.message);
      return true;
    });
    assert.throws(() => loadConfig({ BIGBROTR__monitor__private_key: `"${key}` }, DEFAULT_CONFIG), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^BIGBROTR__monitor__private_key is not a YAML value: /);
      assert.ok(!err.message.includes(key), err.message);
      return true;
    });
  });

  it('says which file is missing or not YAML', () => {
    assert.throws(() => loadConfig({}, join(dir, 'nope.yaml')), /config file not found: .*nope\.yaml/);
    assert.throws(() => loadConfig({}, file('deployment: [bigbrotr\n')), /not valid YAML/);
  });
});
