/**
 * What reaches a node's shell for each operation, observed on the real agents
 * (they run on this machine, so a command's side effects land on this disk).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConsulConnection } from '../../src/core/consul/client';
import { ExecRun } from '../../src/core/runs/execEngine';
import { readNodeLog } from '../../src/core/runs/history';
import { DEFAULT_OPERATION_SETTINGS, OperationSettings } from '../../src/core/runs/phaseRunner';
import { RunRegistry } from '../../src/core/runs/registry';
import { consulJson, consulRequest } from '../infra/cluster';
import { clusterFromEnv, serverAgent } from '../support/env';
import { dbTaskYaml, planIn } from '../support/plans';



describe('commands sent to nodes (exec engine, real cluster)', function () {
  this.timeout(60_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let connection: ConsulConnection;
  let registry: RunRegistry;
  let dir: string;

  before(async () => {
    connection = await connect({ name: 'node-commands', address: server.httpAddr }, undefined);
  });
  beforeEach(() => {
    registry = new RunRegistry();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-nodecmd-'));
  });
  afterEach(async () => {
    registry.dispose();
    const leftovers = await consulRequest(server.httpAddr, '/v1/kv/_rexec?keys');
    assert.equal(leftovers.status, 404, `_rexec keys left behind: ${leftovers.text}`);
  });
  after(async () => {
    await consulRequest(server.httpAddr, '/v1/kv/cco-nodecmd-test?recurse', { method: 'DELETE' });
    connection.dispose();
  });

  async function run(yaml: string, settings: Partial<OperationSettings> = {}, folder = dir) {
    const { plans, merged } = planIn(yaml, { folder });
    const exec = new ExecRun(connection, registry, {
      event: 'deploy',
      merged,
      plans,
      startedBy: 'test',
      settings: { ...DEFAULT_OPERATION_SETTINGS, ...settings },
      ackGraceMs: 3000,
    });
    return { exec, snapshot: await exec.done };
  }

  const putKv = (key: string, value: string) => consulJson(server.httpAddr, `/v1/kv/${key}`, { method: 'PUT', body: value });

  it('hands a run list entry with shell syntax to the chef command as one word, running nothing of it', async () => {
    const { snapshot } = await run(
      dbTaskYaml(`      - chef:
          run_list:
            - recipe[a];touch pwned
            - role[b] $(touch pwned2)
`),
      { chefCommand: `cd ${dir} && printf '[%s]\\n' {{run_list}} > args.txt` },
    );
    assert.equal(snapshot.status, 'success', snapshot.message);
    assert.equal(fs.readFileSync(path.join(dir, 'args.txt'), 'utf8'), '[recipe[a];touch pwned,role[b] $(touch pwned2)]\n');
    assert.ok(!fs.existsSync(path.join(dir, 'pwned')), 'the run list ran `touch pwned` on the node');
    assert.ok(!fs.existsSync(path.join(dir, 'pwned2')), 'the run list ran `touch pwned2` on the node');
  });

  it('quotes values read from KV wherever they reach the chef or service command', async () => {
    await putKv('cco-nodecmd-test/recipe', "recipe[x]'; touch pwned; echo '");
    await putKv('cco-nodecmd-test/svc', 'nginx; touch pwned-svc');
    await putKv('cco-nodecmd-test/suffix', '`touch pwned-var`');
    const { snapshot } = await run(
      dbTaskYaml(`      - consul-kvs:
          action: get
          key: cco-nodecmd-test/recipe
          name: recipe
      - consul-kvs:
          action: get
          key: cco-nodecmd-test/svc
          name: svc
      - consul-kvs:
          action: get
          key: cco-nodecmd-test/suffix
          name: suffix
      - chef:
          run_list:
            - "{{recipe}}"
      - service:
          name: "{{svc}}"
          action: restart
`),
      {
        chefCommand: `cd ${dir} && printf '<%s>\\n' {{run_list}} {{suffix}} >> args.txt`,
        serviceCommand: `cd ${dir} && printf '<%s>\\n' {{action}} {{name}} >> args.txt`,
      },
    );
    assert.equal(snapshot.status, 'success', snapshot.message);
    assert.equal(fs.readFileSync(path.join(dir, 'args.txt'), 'utf8'), "<recipe[x]'; touch pwned; echo '>\n<`touch pwned-var`>\n<restart>\n<nginx; touch pwned-svc>\n");
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('pwned')), []);
  });

  it('keeps nothing of an execute with output: false, and says so in the node output', async () => {
    const secret = `s3cr3t-${process.pid}-${Date.now()}`;
    const { exec, snapshot } = await run(
      dbTaskYaml(`      - execute:
          script: |
            echo "the password is ${secret}"
            echo "stderr ${secret}" >&2
          output: false
      - execute:
          script: echo visible after
`),
    );
    assert.equal(snapshot.status, 'success', snapshot.message);
    const shown = exec.run.outputOf(0, 'db-1');
    assert.ok(!shown.includes(secret), `secret in the run model: ${shown}`);
    assert.match(shown, /\[execute\] output not kept \(output: false\)\n/);
    assert.match(shown, /visible after/);
    const logged = await readNodeLog(connection, snapshot.id, 0, 'db-1');
    assert.ok(!logged.includes(secret), `secret in the KV log: ${logged}`);
    assert.match(logged, /output not kept/);
    const [record] = await consulJson<Array<{ Value: string }>>(server.httpAddr, `/v1/kv/metronome/results/${snapshot.id}/0/db-1`);
    assert.ok(!Buffer.from(record.Value, 'base64').toString().includes(secret), 'secret in the node record');
  });

  it('still reports the exit code of an execute with output: false', async () => {
    const { snapshot } = await run(
      dbTaskYaml(`      - execute:
          script: |
            echo hidden
            exit 7
          output: false
`),
    );
    assert.equal(snapshot.status, 'error');
    assert.deepEqual(snapshot.phases[0].nodes.map((n) => [n.status, n.exitCode]), [['error', 7]]);
  });

  it("runs an execute file with arguments under its own shebang's interpreter", async () => {
    fs.writeFileSync(path.join(dir, 'tool.py'), '#!/usr/bin/python3\nimport sys\nprint("python", sys.version_info[0], sys.argv[1:])\n');
    const { exec, snapshot } = await run(
      dbTaskYaml(`      - execute:
          file: tool.py
          arguments:
            - "a b"
            - "it's $(touch pwned)"
`),
    );
    assert.equal(snapshot.status, 'success', `${snapshot.message} ${exec.run.outputOf(0, 'db-1')}`);
    assert.equal(exec.run.outputOf(0, 'db-1'), `python 3 ['a b', "it's $(touch pwned)"]\n`);
    assert.ok(!fs.existsSync(path.join(dir, 'pwned')));
  });

  it('passes the exit status of a shebang script with arguments through, and leaves no temp file on the node', async () => {
    fs.writeFileSync(path.join(dir, 'strict.sh'), '#!/bin/sh -e\necho "$# args: $1"\nfalse\necho "not reached"\n');
    const before = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('cco-exec.')).length;
    const { exec, snapshot } = await run(
      dbTaskYaml(`      - execute:
          file: strict.sh
          arguments: [one, two]
`),
    );
    assert.equal(exec.run.outputOf(0, 'db-1'), '2 args: one\n');
    assert.deepEqual(snapshot.phases[0].nodes.map((n) => [n.status, n.exitCode]), [['error', 1]]);
    assert.equal(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('cco-exec.')).length, before);
  });

  it('refuses an execute file outside the pattern folder and sends nothing', async () => {
    const pattern = path.join(dir, 'pattern');
    fs.mkdirSync(pattern);
    fs.writeFileSync(path.join(dir, 'outside.sh'), `touch ${path.join(dir, 'ran')}\n`);
    const { exec, snapshot } = await run(
      dbTaskYaml(`      - execute:
          file: ../outside.sh
`),
      {},
      pattern,
    );
    assert.equal(snapshot.status, 'error');
    assert.match(exec.run.outputOf(0, 'db-1'), /outside the pattern folder/);
    assert.ok(!fs.existsSync(path.join(dir, 'ran')));
  });

  it('sends a chef command longer than one argument may be (128 KiB) another way', async () => {
    const entries = Array.from({ length: 3000 }, (_, i) => `recipe[cookbook_number_${i}::recipe_with_a_long_name]`);
    const joined = entries.join(',');
    assert.ok(joined.length > 131072);
    const { exec, snapshot } = await run(
      dbTaskYaml(`      - chef:
          run_list:
${entries.map((e) => `            - ${e}\n`).join('')}`),
      { chefCommand: `printf %s {{run_list}} | sha256sum | cut -c1-16` },
    );
    assert.equal(snapshot.status, 'success', `${snapshot.message} ${exec.run.outputOf(0, 'db-1')}`);
    const { createHash } = await import('node:crypto');
    assert.equal(exec.run.outputOf(0, 'db-1'), `${createHash('sha256').update(joined).digest('hex').slice(0, 16)}\n`);
  });

  it('refuses a phase whose chef operation sets attributes, before sending anything', async () => {
    const { exec, snapshot } = await run(
      dbTaskYaml(`      - execute:
          script: touch ${path.join(dir, 'first-op-ran')}
      - chef:
          run_list: ["recipe[a]"]
          attributes:
            nginx:
              port: 8080
`),
      { chefCommand: `touch ${path.join(dir, 'chef-ran')}` },
    );
    assert.equal(snapshot.status, 'error');
    assert.match(exec.run.outputOf(0, 'db-1'), /chef `attributes` are not supported by the exec engine: not run; use the metronome engine/);
    assert.match(snapshot.phases[0].nodes[0].note ?? '', /not supported by the exec engine/);
    assert.ok(!fs.existsSync(path.join(dir, 'first-op-ran')));
    assert.ok(!fs.existsSync(path.join(dir, 'chef-ran')));
  });
});
