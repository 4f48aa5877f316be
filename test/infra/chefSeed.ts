/**
 * Chef data for the sandbox and tests: nodes named like the Consul test
 * cluster's (plus one known only to Chef), roles, environments, cookbooks with
 * two versions each, data bags, and each node's run history posted through
 * the Reporting API exactly as chef-client does (start, then a gzipped end):
 * several successes, and failures with an exception, a backtrace and a failed
 * resource with a delta — so a newcomer sees joined nodes and failures at once.
 */
import * as crypto from 'node:crypto';
import type { ChefServerClient } from '../../src/core/chef/server/chefServerClient';
import { ChefServerError } from '../../src/core/chef/server/chefServerClient';
import type { ReportingException, ReportingResource } from '../../src/core/chef/server/reportingReport';
import { postRunEnd, postRunStart, RunEndInput } from '../../src/core/chef/server/reporting';
import { CLIENT_NODES, SERVER_NODE } from './cluster';

export interface SeedNode {
  name: string;
  environment: string;
  runList: string[];
  ipaddress: string;
  platform?: string;
  platformVersion?: string;
  /** The story of its runs, oldest first. */
  history: Array<'success' | 'failure'>;
}

/** Chef's only node that Consul does not know. */
export const CHEF_ONLY_NODE = 'legacy-app-1';

/** The Consul cluster's nodes (same names and addresses as test/infra/cluster.ts) plus one known only to Chef. */
export const SEED_NODES: readonly SeedNode[] = [
  { name: SERVER_NODE, environment: 'production', runList: ['role[base]'], ipaddress: '127.0.0.2', history: ['success', 'success', 'success', 'success'] },
  { name: CLIENT_NODES[0], environment: 'production', runList: ['role[base]', 'role[web]'], ipaddress: '127.0.0.3', history: ['success', 'success', 'success', 'success', 'failure'] },
  { name: CLIENT_NODES[1], environment: 'staging', runList: ['role[base]', 'role[db]'], ipaddress: '127.0.0.4', history: ['success', 'failure', 'success', 'success'] },
  { name: CHEF_ONLY_NODE, environment: 'staging', runList: ['role[base]', 'recipe[legacy_app]'], ipaddress: '10.20.0.9', platform: 'centos', platformVersion: '7.9.2009', history: ['success', 'failure', 'failure'] },
];

export const SEED_ROLES: Record<string, { description: string; runList: string[] }> = {
  base: { description: 'Every server: users, NTP, Consul agent', runList: ['recipe[base]'] },
  web: { description: 'nginx front ends', runList: ['recipe[nginx]'] },
  db: { description: 'PostgreSQL primaries and replicas', runList: ['recipe[postgresql::server]'] },
};

export const SEED_ENVIRONMENTS: Record<string, { description: string; cookbookVersions: Record<string, string> }> = {
  production: { description: 'Customer traffic', cookbookVersions: { nginx: '= 2.7.0', postgresql: '= 11.1.0' } },
  staging: { description: 'Pre-production', cookbookVersions: {} },
};

export const SEED_COOKBOOKS: Record<string, string[]> = {
  base: ['1.0.0', '1.1.0'],
  nginx: ['2.7.0', '2.8.1'],
  postgresql: ['11.0.0', '11.1.0'],
};

export const SEED_DATA_BAGS: Record<string, Record<string, Record<string, unknown>>> = {
  users: {
    alice: { id: 'alice', uid: 2001, shell: '/bin/bash', groups: ['sysadmin'] },
    bob: { id: 'bob', uid: 2002, shell: '/bin/zsh', groups: ['dev'] },
  },
  apps: {
    checkout: { id: 'checkout', port: 8080, upstreams: ['api.service.consul'] },
  },
};

export interface SeedOptions {
  nodes?: readonly SeedNode[];
  /** Time of the newest run's end (default now). Runs are 30 minutes apart. */
  now?: number;
  /** Minutes between runs (default 30). */
  intervalMinutes?: number;
}

export interface SeedResult {
  nodes: string[];
  /** Run IDs per node, oldest first, with their status. */
  runs: Record<string, Array<{ runId: string; status: 'success' | 'failure'; startedAt: number }>>;
}

/** POST, or PUT over an existing object (409): seeding may run twice. */
async function upsert(client: ChefServerClient, collection: string, name: string, body: unknown): Promise<void> {
  try {
    await client.post(`/${collection}`, body);
  } catch (e) {
    if (e instanceof ChefServerError && e.details.status === 409) await client.put(`/${collection}/${encodeURIComponent(name)}`, body);
    else throw e;
  }
}

const CHEF_VERSION = '17.10.0';

function nodeBody(n: SeedNode, ohaiTime: number): Record<string, unknown> {
  const platform = n.platform ?? 'debian';
  return {
    name: n.name,
    chef_type: 'node',
    json_class: 'Chef::Node',
    chef_environment: n.environment,
    run_list: n.runList,
    default: { base: { ntp_servers: ['0.pool.ntp.org', '1.pool.ntp.org'] }, nginx: { worker_processes: 'auto' } },
    normal: { tags: n.name === CHEF_ONLY_NODE ? ['decommission-pending'] : [] },
    override: n.environment === 'production' ? { nginx: { worker_processes: 4 } } : {},
    automatic: {
      platform,
      platform_family: platform === 'debian' ? 'debian' : 'rhel',
      platform_version: n.platformVersion ?? '12.5',
      fqdn: `${n.name}.example.internal`,
      hostname: n.name,
      ipaddress: n.ipaddress,
      ohai_time: ohaiTime / 1000,
      chef_packages: { chef: { version: CHEF_VERSION } },
      kernel: { name: 'Linux', release: '6.1.0-18-amd64', machine: 'x86_64' },
      memory: { total: '4030256kB' },
      cpu: { total: 2 },
    },
  };
}

function cookbookBody(name: string, version: string): Record<string, unknown> {
  return {
    name: `${name}-${version}`,
    cookbook_name: name,
    version,
    json_class: 'Chef::CookbookVersion',
    chef_type: 'cookbook_version',
    'frozen?': false,
    metadata: {
      name,
      version,
      description: `Installs and configures ${name}`,
      long_description: '',
      maintainer: 'Platform team',
      maintainer_email: 'platform@example.internal',
      license: 'Apache-2.0',
      dependencies: name === 'base' ? {} : { base: '>= 1.0.0' },
      recipes: { [`${name}::default`]: '' },
      platforms: { debian: '>= 11.0' },
    },
  };
}

const ms = (n: number) => String(n);

/** The resources a successful run on this node updates. */
function successResources(n: SeedNode, i: number): ReportingResource[] {
  const resources: ReportingResource[] = [
    { type: 'execute', name: 'apt-get update', id: 'apt-get update', before: {}, after: { command: 'apt-get update' }, duration: ms(2140 + i * 37), delta: '', result: 'run', cookbook_name: 'base', cookbook_version: '1.1.0' },
  ];
  if (n.runList.includes('role[web]')) {
    resources.push(
      {
        type: 'template', name: '/etc/nginx/nginx.conf', id: '/etc/nginx/nginx.conf',
        before: { path: '/etc/nginx/nginx.conf', owner: 'root', group: 'root', mode: '0644', checksum: `a1b2c3${i}` },
        after: { path: '/etc/nginx/nginx.conf', owner: 'root', group: 'root', mode: '0644', checksum: `a1b2c3${i + 1}` },
        duration: ms(48), result: 'create', cookbook_name: 'nginx', cookbook_version: '2.7.0',
        delta: `--- /etc/nginx/nginx.conf\t2026-11-30 10:00:00.000000000 +0000\n+++ /etc/nginx/.chef-nginx20261130.conf\t2026-11-30 10:30:00.000000000 +0000\n@@ -1,4 +1,4 @@\n user www-data;\n-worker_processes ${i + 1};\n+worker_processes ${i + 2};\n pid /run/nginx.pid;\n include /etc/nginx/modules-enabled/*.conf;\n`,
      },
      { type: 'service', name: 'nginx', id: 'nginx', before: { service_name: 'nginx', running: true, enabled: true }, after: { service_name: 'nginx', running: true, enabled: true }, duration: ms(312), delta: '', result: 'reload', cookbook_name: 'nginx', cookbook_version: '2.7.0' },
    );
  }
  if (n.runList.includes('role[db]')) {
    resources.push({ type: 'package', name: 'postgresql-15', id: 'postgresql-15', before: { package_name: 'postgresql-15', version: '15.5-0+deb12u1' }, after: { package_name: 'postgresql-15', version: '15.6-0+deb12u1' }, duration: ms(18234), delta: '', result: 'upgrade', cookbook_name: 'postgresql', cookbook_version: '11.1.0' });
  }
  return resources;
}

function failure(n: SeedNode, i: number): { resources: ReportingResource[]; exception: ReportingException } {
  const gems = `/opt/chef/embedded/lib/ruby/gems/3.0.0/gems/chef-${CHEF_VERSION}/lib/chef`;
  const systemInfo = `chef_version=${CHEF_VERSION}\nplatform=${n.platform ?? 'debian'}\nplatform_version=${n.platformVersion ?? '12.5'}\nruby=ruby 3.0.6p216 (2023-03-30 revision 23a532679b) [x86_64-linux]\nprogram_name=/usr/bin/chef-client\nexecutable=/opt/chef/bin/chef-client`;
  if (n.runList.includes('role[web]')) {
    const title = "Error executing action `create` on resource 'template[/etc/nginx/sites-enabled/checkout.conf]'";
    const message = 'Proposed content for /etc/nginx/sites-enabled/checkout.conf failed verification #<Chef::Resource::File::Verification:0x000055d5c4d0e8a8>';
    return {
      resources: [
        ...successResources(n, i).slice(0, 1),
        {
          type: 'template', name: '/etc/nginx/sites-enabled/checkout.conf', id: '/etc/nginx/sites-enabled/checkout.conf',
          before: { path: '/etc/nginx/sites-enabled/checkout.conf', owner: 'root', group: 'root', mode: '0644', checksum: '5d41402abc4b2a76b9719d911017c592' },
          after: { path: '/etc/nginx/sites-enabled/checkout.conf', owner: 'root', group: 'root', mode: '0644', checksum: '7d793037a0760186574b0282f2f435e7', verifications: ['nginx -t -c %{path}'] },
          duration: ms(233), result: 'create', cookbook_name: 'nginx', cookbook_version: '2.8.1',
          delta: '--- /etc/nginx/sites-enabled/checkout.conf\t2026-11-30 10:00:00.000000000 +0000\n+++ /etc/nginx/sites-enabled/.chef-checkout20261201.conf\t2026-12-01 05:00:00.000000000 +0000\n@@ -1,6 +1,6 @@\n server {\n   listen 80;\n   server_name checkout.example.internal;\n-  location / { proxy_pass http://api.service.consul:9090; }\n+  location / { proxy_pass http://api.service.consul:9090 }\n   access_log /var/log/nginx/checkout.access.log;\n }\n',
        },
      ],
      exception: {
        class: 'Chef::Exceptions::ValidationFailed',
        message,
        backtrace: [
          `${gems}/resource/file/verification.rb:103:in \`verify'`,
          `${gems}/provider/file.rb:364:in \`block in do_validate_content'`,
          `${gems}/provider/file.rb:361:in \`each'`,
          `${gems}/provider/file.rb:361:in \`do_validate_content'`,
          `${gems}/provider/file.rb:150:in \`action_create'`,
          `${gems}/provider.rb:238:in \`run_action'`,
          `${gems}/resource.rb:595:in \`run_action'`,
        ],
        description: {
          title,
          sections: [
            { 'Chef::Exceptions::ValidationFailed': message },
            { 'Resource Declaration:': "# In /var/chef/cache/cookbooks/nginx/recipes/default.rb\n\n 31: template '/etc/nginx/sites-enabled/checkout.conf' do\n 32:   source 'checkout.conf.erb'\n 33:   verify 'nginx -t -c %{path}'\n 34:   notifies :reload, 'service[nginx]'\n 35: end\n" },
            { 'Compiled Resource:': "# Declared in /var/chef/cache/cookbooks/nginx/recipes/default.rb:31:in `from_file'\n\ntemplate(\"/etc/nginx/sites-enabled/checkout.conf\") do\n  action [:create]\n  source \"checkout.conf.erb\"\n  cookbook_name \"nginx\"\n  recipe_name \"default\"\nend\n" },
            { 'System Info:': systemInfo },
          ],
        },
      },
    };
  }
  const [title, message, resource]: [string, string, ReportingResource] = n.runList.includes('role[db]')
    ? [
        "Error executing action `run` on resource 'execute[pg_upgradecluster 15 main]'",
        'Expected process to exit with [0], but received \'1\'\n---- Begin output of pg_upgradecluster 15 main ----\nSTDOUT: \nSTDERR: Error: target cluster 16/main already exists\n---- End output of pg_upgradecluster 15 main ----\nRan pg_upgradecluster 15 main returned 1',
        { type: 'execute', name: 'pg_upgradecluster 15 main', id: 'pg_upgradecluster 15 main', before: {}, after: { command: 'pg_upgradecluster 15 main', user: 'postgres' }, duration: ms(1520), delta: '', result: 'run', cookbook_name: 'postgresql', cookbook_version: '11.1.0' },
      ]
    : [
        "Error executing action `start` on resource 'service[legacy-app]'",
        'Expected process to exit with [0], but received \'1\'\n---- Begin output of ["/usr/bin/systemctl", "--system", "start", "legacy-app"] ----\nSTDOUT: \nSTDERR: Job for legacy-app.service failed because the control process exited with error code.\n---- End output of ["/usr/bin/systemctl", "--system", "start", "legacy-app"] ----\nRan ["/usr/bin/systemctl", "--system", "start", "legacy-app"] returned 1',
        {
          type: 'service', name: 'legacy-app', id: 'legacy-app', before: { service_name: 'legacy-app', running: false, enabled: true }, after: { service_name: 'legacy-app', running: true, enabled: true }, duration: ms(2034), result: 'start', cookbook_name: 'legacy_app', cookbook_version: '0.3.0',
          delta: '',
        },
      ];
  return {
    resources: [...successResources(n, i).slice(0, 1), resource],
    exception: {
      class: 'Mixlib::ShellOut::ShellCommandFailed',
      message,
      backtrace: [
        '/opt/chef/embedded/lib/ruby/gems/3.0.0/gems/mixlib-shellout-3.2.7/lib/mixlib/shellout.rb:300:in `invalid!\'',
        '/opt/chef/embedded/lib/ruby/gems/3.0.0/gems/mixlib-shellout-3.2.7/lib/mixlib/shellout.rb:287:in `error!\'',
        `${gems}/mixin/shell_out.rb:214:in \`shell_out_compacted!'`,
        `${gems}/provider.rb:238:in \`run_action'`,
      ],
      description: {
        title,
        sections: [
          { 'Mixlib::ShellOut::ShellCommandFailed': message },
          { 'Resource Declaration:': `# In /var/chef/cache/cookbooks/${resource.cookbook_name}/recipes/default.rb\n\n 18: ${resource.type} '${resource.name}' do\n 19:   action :${resource.result}\n 20: end\n` },
          { 'System Info:': systemInfo },
        ],
      },
    },
  };
}

/** One run posted as chef-client posts it: start, then the gzipped end. */
export async function postRun(client: ChefServerClient, node: string, run: Omit<RunEndInput, 'runId'> & { runId?: string }): Promise<string> {
  const runId = run.runId ?? crypto.randomUUID();
  await postRunStart(client, node, { runId, startTime: run.startTime });
  await postRunEnd(client, node, { ...run, runId });
  return runId;
}

/** Seeds everything (idempotent for objects; runs are added on each call). The client must be an admin. */
export async function seedChef(client: ChefServerClient, opts: SeedOptions = {}): Promise<SeedResult> {
  const nodes = opts.nodes ?? SEED_NODES;
  const now = opts.now ?? Date.now();
  const interval = (opts.intervalMinutes ?? 30) * 60_000;
  for (const [name, e] of Object.entries(SEED_ENVIRONMENTS)) {
    await upsert(client, 'environments', name, { name, json_class: 'Chef::Environment', chef_type: 'environment', description: e.description, cookbook_versions: e.cookbookVersions, default_attributes: {}, override_attributes: {} });
  }
  for (const [name, r] of Object.entries(SEED_ROLES)) {
    await upsert(client, 'roles', name, { name, json_class: 'Chef::Role', chef_type: 'role', description: r.description, run_list: r.runList, default_attributes: {}, override_attributes: {}, env_run_lists: {} });
  }
  for (const [name, versions] of Object.entries(SEED_COOKBOOKS)) {
    for (const version of versions) await client.put(`/cookbooks/${name}/${version}`, cookbookBody(name, version));
  }
  for (const [bag, items] of Object.entries(SEED_DATA_BAGS)) {
    try {
      await client.post('/data', { name: bag });
    } catch (e) {
      if (!(e instanceof ChefServerError && e.details.status === 409)) throw e;
    }
    for (const [id, item] of Object.entries(items)) {
      try {
        await client.post(`/data/${bag}`, item);
      } catch (e) {
        if (e instanceof ChefServerError && e.details.status === 409) await client.put(`/data/${bag}/${id}`, item);
        else throw e;
      }
    }
  }
  const result: SeedResult = { nodes: [], runs: {} };
  for (const [nodeIndex, n] of nodes.entries()) {
    // The Chef-only node has not checked in for two days; the others ran minutes ago.
    const lastEnd = n.name === CHEF_ONLY_NODE ? now - 2 * 24 * 3600_000 : now - nodeIndex * 4 * 60_000;
    await upsert(client, 'nodes', n.name, nodeBody(n, lastEnd));
    result.nodes.push(n.name);
    result.runs[n.name] = [];
    for (const [i, status] of n.history.entries()) {
      const endTime = lastEnd - (n.history.length - 1 - i) * interval;
      const duration = (status === 'failure' ? 41 : 63) * 1000 + i * 1000;
      const startTime = endTime - duration;
      const f = status === 'failure' ? failure(n, i) : undefined;
      const resources = f ? f.resources : successResources(n, i);
      const runId = await postRun(client, n.name, {
        startTime, endTime, status,
        runList: n.runList,
        totalResources: 40 + resources.length,
        resources,
        exception: f?.exception,
      });
      result.runs[n.name].push({ runId, status, startedAt: Math.floor(startTime / 1000) * 1000 });
    }
  }
  return result;
}

export interface BulkSeedOptions {
  /** How many nodes: `<prefix>0000` … */
  count: number;
  prefix?: string;
  /** Requests in flight (default 8). */
  concurrency?: number;
  /** Also post one run per node (start, then gzipped end); every tenth fails. Default true. */
  withRuns?: boolean;
  now?: number;
}

/**
 * Many small nodes (and a run each) for scale tests and benchmarks, e.g. the
 * 5,000-node Chef listing. Returns the node names. About 100 nodes with runs a
 * second against a local goiardi.
 */
export async function seedBulkNodes(client: ChefServerClient, opts: BulkSeedOptions): Promise<string[]> {
  const prefix = opts.prefix ?? 'scale-';
  const now = opts.now ?? Date.now();
  const width = Math.max(4, String(opts.count - 1).length);
  const names = Array.from({ length: opts.count }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
  let next = 0;
  const one = async (i: number) => {
    const name = names[i];
    const n: SeedNode = { name, environment: i % 3 ? 'production' : 'staging', runList: ['role[base]', i % 2 ? 'role[web]' : 'role[db]'], ipaddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, history: [] };
    await upsert(client, 'nodes', name, nodeBody(n, now - (i % 60) * 60_000));
    if (opts.withRuns === false) return;
    const status = i % 10 === 9 ? 'failure' : 'success';
    const endTime = now - (i % 60) * 60_000;
    const f = status === 'failure' ? failure(n, i) : undefined;
    const resources = f ? f.resources : successResources(n, i);
    await postRun(client, name, { startTime: endTime - 60_000, endTime, status, runList: n.runList, totalResources: 40, resources, exception: f?.exception });
  };
  await Promise.all(
    Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, async () => {
      while (next < names.length) await one(next++);
    }),
  );
  return names;
}
