// The Seeder's caps in the config: present with their defaults, and refused when not positive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../workers/config.js';

describe('seeder config', () => {
  it('ships the seed folder and the caps, the shipped seed file well within them', () => {
    const c = loadConfig({}, DEFAULT_CONFIG);
    assert.equal(c.seeder.dir, '');
    assert.equal(c.seeder.max_file_bytes, 20_000_000);
    assert.equal(c.seeder.max_line_bytes, 4096);
    assert.equal(c.seeder.max_urls, 200_000);
    const e = loadConfig({ BIGBROTR__seeder__dir: 'seeds', BIGBROTR__seeder__max_file_bytes: '1000', BIGBROTR__seeder__max_urls: '5' }, DEFAULT_CONFIG);
    assert.deepEqual([e.seeder.dir, e.seeder.max_file_bytes, e.seeder.max_urls], ['seeds', 1000, 5]);
  });

  for (const [key, value] of [['max_file_bytes', '0'], ['max_line_bytes', '-1'], ['max_urls', '0'], ['max_file_bytes', '1.5'], ['batch_size', '100000']]) {
    it(`refuses seeder.${key} = ${value}, naming the field`, () => {
      assert.throws(() => loadConfig({ [`BIGBROTR__seeder__${key}`]: value }, DEFAULT_CONFIG), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`seeder\\.${key} = ${value}: `));
        return true;
      });
    });
  }
});
