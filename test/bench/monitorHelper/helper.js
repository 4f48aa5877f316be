/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS extension that VS Code loads as it is */
// Benchmark helper loaded next to the packaged extension (as a development
// extension): it puts synthetic runs into the extension's own RunRegistry —
// the Run class is the compiled one from out/, the same source as the bundle —
// and writes what it measured in the extension host to CCO_BENCH_OUT.
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');
// Installed from a .vsix, the helper finds the checkout through the environment.
const { Run } = require(path.join(process.env.CCO_REPO_ROOT, 'out', 'src', 'core', 'runs', 'model.js'));

const out = process.env.CCO_BENCH_OUT;
const seconds = Number(process.env.CCO_BENCH_MONITOR_S || 60);
const NODES = 20;
const LINES_PER_S = 1000;
const TICK_MS = 20;

function record(values) {
  const old = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : {};
  fs.writeFileSync(out, JSON.stringify({ ...old, ...values }));
}

async function api() {
  const ext = vscode.extensions.getExtension('chef-consul-ops.chef-consul-ops');
  return ext.isActive ? ext.exports : ext.activate();
}

const heapMb = () => process.memoryUsage().heapUsed / 1024 / 1024;

async function load() {
  const { runs } = await api();
  const nodes = Array.from({ length: NODES }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
  const run = new Run({ id: `bench-load-${Date.now()}`, engine: 'adhoc', command: 'bench: 20 nodes x 1,000 lines/s', patterns: [], startedBy: 'bench', phases: [{ no: 0, task: 'stream' }] });
  runs.add(run);
  run.start();
  run.startPhase(0, nodes);
  for (const n of nodes) run.nodeStarted(0, n);
  await vscode.commands.executeCommand('chefConsul.openRunMonitor', { id: run.id });
  record({ loadReady: Date.now() });
  // The page says when it measures (the benchmark writes `go` into the results file).
  while (!JSON.parse(fs.readFileSync(out, 'utf8')).go) await new Promise((r) => setTimeout(r, 100));
  const heapStart = heapMb();
  let heapMax = heapStart;
  const started = Date.now();
  let sent = 0;
  const line = (node, i) => `\u001b[32m${node}\u001b[0m converging resource ${i}: template[/etc/app/config-${i % 97}.yml] action create (up to date)\n`;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * LINES_PER_S);
      const perNode = due - sent;
      if (perNode > 0) {
        for (const n of nodes) {
          let chunk = '';
          for (let i = sent; i < due; i++) chunk += line(n, i);
          run.appendOutput(0, n, chunk);
        }
        sent = due;
      }
      heapMax = Math.max(heapMax, heapMb());
      if (Date.now() - started >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const heapEnd = heapMb();
  for (const n of nodes) run.nodeEnded(0, n, 'success', 0);
  run.endPhase(0, 'success');
  run.end('success');
  record({ loadDone: Date.now(), loadSeconds: (Date.now() - started) / 1000, linesSent: sent * NODES, heapStart, heapEnd, heapMax });
}

async function open200k() {
  const { runs } = await api();
  const run = new Run({ id: `bench-200k-${Date.now()}`, engine: 'adhoc', command: 'bench: one node, 200,000 lines', patterns: [], startedBy: 'bench', phases: [{ no: 0, task: 'long' }] });
  runs.add(run);
  run.start();
  run.startPhase(0, ['long-1']);
  run.nodeStarted(0, 'long-1');
  for (let block = 0; block < 200; block++) {
    let chunk = '';
    for (let i = block * 1000; i < (block + 1) * 1000; i++) chunk += `line ${i + 1} of a long chef-client log: * template[/etc/app/${i}.conf] action create (up to date)\n`;
    run.appendOutput(0, 'long-1', chunk);
  }
  run.nodeEnded(0, 'long-1', 'success', 0);
  run.endPhase(0, 'success');
  run.end('success');
  const t0 = Date.now();
  await vscode.commands.executeCommand('chefConsul.openRunMonitor', { id: run.id });
  record({ open200kStart: t0 });
}

exports.activate = (context) => {
  context.subscriptions.push(
    vscode.commands.registerCommand('ccoBench.monitorLoad', () => load().catch((e) => record({ error: String(e && e.stack) }))),
    vscode.commands.registerCommand('ccoBench.monitorOpen200k', () => open200k().catch((e) => record({ error: String(e && e.stack) }))),
  );
};
