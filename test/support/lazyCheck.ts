/**
 * Activation must not load the libraries that only the first connection, task.yml
 * read or credentials file needs (src/core/util/lazyLibs.ts): the modules that use
 * them load without them, and the first use loads them.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';

const LIBS = ['consul', 'js-yaml', 'smol-toml'];
const SRC = path.resolve(__dirname, '..', '..', 'src');

function loadedLibs(): string[] {
  const keys = Object.keys(require.cache);
  return LIBS.filter((lib) => keys.some((k) => k.includes(`${path.sep}node_modules${path.sep}${lib}${path.sep}`)));
}

/** The check itself, run by test/unit/lazyLibs.test.ts in a fresh Node process (other test files of a run load these libraries). */
export async function checkLazyLoading(): Promise<void> {
  {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const credentials = require(path.join(SRC, 'core', 'chef', 'server', 'credentials')) as typeof import('../../src/core/chef/server/credentials');
    const yamlTree = require(path.join(SRC, 'core', 'plans', 'yamlTree')) as typeof import('../../src/core/plans/yamlTree');
    const client = require(path.join(SRC, 'core', 'consul', 'client')) as typeof import('../../src/core/consul/client');
    require(path.join(SRC, 'core', 'consul', 'nodeDump'));
    require(path.join(SRC, 'core', 'watches', 'queries'));
    require(path.join(SRC, 'core', 'plans', 'parse'));
    /* eslint-enable @typescript-eslint/no-require-imports */
    assert.deepEqual(loadedLibs(), []);

    const parsed = credentials.parseCredentials('[default]\nclient_name = "me"\nclient_key = "me.pem"\nchef_server_url = "https://chef.example/organizations/o"\n', '/home/me/.chef/credentials', '/home/me');
    assert.equal(parsed.profiles.length, 1);
    assert.deepEqual(loadedLibs(), ['smol-toml']);
    // A TOML error still carries its line: the TomlError checked is the copy that threw.
    const bad = credentials.parseCredentials('[default]\nclient_name = \n', '/c', '/home/me');
    assert.equal(bad.problems[0]?.line, 2);

    const diags = { list: [] as unknown[], add: () => undefined } as unknown as Parameters<typeof yamlTree.readYaml>[1];
    const read = yamlTree.readYaml('a: 1\n', diags);
    assert.equal(read.ok, true);
    assert.deepEqual(loadedLibs(), ['js-yaml', 'smol-toml']);

    const conn = await client.connect({ name: 'lazy', address: '127.0.0.1:1' }, undefined);
    conn.dispose();
    assert.deepEqual(loadedLibs(), ['consul', 'js-yaml', 'smol-toml']);
  }
}

