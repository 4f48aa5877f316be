import * as assert from 'node:assert/strict';
import { mergeAttributes } from '../../src/core/chef/attributes';
import { compareVersions, nodeSummaryFromRow } from '../../src/core/chef/server/chefApi';

describe('ChefApi helpers', () => {
  it('merges attributes by precedence: default < normal < override < automatic, hashes key by key, arrays replaced', () => {
    const merged = mergeAttributes({
      default: { nginx: { workers: 2, port: 80, modules: ['gzip', 'ssl'] }, only_default: true },
      normal: { nginx: { port: 8080 }, tags: ['a'] },
      override: { nginx: { workers: 4, modules: ['http2'] } },
      automatic: { platform: 'debian', nginx: { version: '1.22' } },
    });
    assert.deepEqual(merged, { nginx: { workers: 4, port: 8080, modules: ['http2'], version: '1.22' }, only_default: true, tags: ['a'], platform: 'debian' });
  });

  it('reads a partial-search row into a node summary; ohai_time (seconds) becomes epoch ms', () => {
    assert.deepEqual(nodeSummaryFromRow({ name: 'web-1', chef_environment: 'production', run_list: ['role[web]'], platform: 'debian', platform_version: '12.5', fqdn: null, ohai_time: 1764570000.25 }), {
      name: 'web-1', runList: ['role[web]'], environment: 'production', platform: 'debian', platformVersion: '12.5', ohaiTime: 1764570000250,
    });
    assert.deepEqual(nodeSummaryFromRow({ name: 'new', run_list: null, ohai_time: null }), { name: 'new', runList: [] });
  });

  it('compares Chef versions numerically', () => {
    assert.deepEqual(['1.9.2', '1.10.0', '1.2.0'].sort((a, b) => compareVersions(b, a)), ['1.10.0', '1.9.2', '1.2.0']);
  });
});
