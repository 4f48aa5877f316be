// Runs the real VS Code workbench (code-server 4.100.3 = VS Code 1.100.3, with a
// Node extension host) and drives it with Debian's Chromium through playwright-core.
// Used by the extension-host test runner, UI tests, benchmarks and the sandbox.
// Plain Node: must not import `vscode`.
//
// Every process started here is stopped by its PID (process group) — on stop(),
// and as a last resort when this Node process exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export interface CodeServerHandle {
  /** http://127.0.0.1:<port>/ */
  url: string;
  port: number;
  pid: number;
  userDataDir: string;
  extensionsDir: string;
  /** code-server's stdout+stderr (deleted with userDataDir when that was a temp dir). */
  logFile: string;
  stop(): Promise<void>;
}

export interface StartCodeServerOptions {
  port?: number;
  userDataDir?: string;
  extensionsDir?: string;
  /** Merged over process.env; reaches the extension host (see codeServerEnv). */
  env?: NodeJS.ProcessEnv;
  /** Written to <userDataDir>/User/settings.json, over DEFAULT_SETTINGS. */
  settings?: Record<string, unknown>;
  logFile?: string;
  /** Workspace trust on, as users have it: the folder opens in Restricted Mode unless trusted. Default off. */
  workspaceTrust?: boolean;
}

export interface RunExtensionTestsOptions {
  extensionDevelopmentPath: string;
  /** Absolute path to the compiled tests index.js exporting run(). */
  extensionTestsPath: string;
  workspaceFolder: string;
  env?: NodeJS.ProcessEnv;
  settings?: Record<string, unknown>;
  /** VS Code's user data (settings, global storage); default a fresh temp dir, removed afterwards. A given one is kept: a second run starts VS Code again on it. */
  userDataDir?: string;
  /** See StartCodeServerOptions.workspaceTrust. */
  workspaceTrust?: boolean;
  /** Default 5 minutes; on timeout a screenshot is taken and EXIT_TIMEOUT returned. */
  timeoutMs?: number;
  /** Default <extensionDevelopmentPath>/test-results. */
  screenshotDir?: string;
}

export interface OpenWorkbenchOptions {
  /** Folder to open in the workbench. */
  folder?: string;
  /** Loads the extension from source, like F5 "Extension Development Host". */
  extensionDevelopmentPath?: string;
  /** Installs this .vsix into extensionsDir before code-server starts. */
  vsix?: string;
  extensionsDir?: string;
  userDataDir?: string;
  env?: NodeJS.ProcessEnv;
  settings?: Record<string, unknown>;
  /** See StartCodeServerOptions.workspaceTrust. */
  workspaceTrust?: boolean;
  port?: number;
  headless?: boolean;
  viewport?: { width: number; height: number };
  /** How long to wait for '.monaco-workbench'. Default 60 s. */
  timeoutMs?: number;
}

export interface Workbench {
  page: Page;
  browser: Browser;
  server: CodeServerHandle;
  close(): Promise<void>;
}

/** Exit code of runExtensionTests when the tests did not finish in time. */
export const EXIT_TIMEOUT = 124;
/** Exit code when the harness itself failed (browser/page crashed, server died). */
export const EXIT_HARNESS_ERROR = 125;

export const CODE_SERVER_VERSION = '4.100.3';
export const CHROMIUM_PATH = process.env.CCO_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Keeps test runs deterministic and offline: no welcome page stealing focus,
 * no update/marketplace/telemetry traffic, no trust prompt.
 */
export const DEFAULT_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  // The tester's own ~/.chef must not make a Chef profile active in every test.
  'chefConsul.chef.readKnifeConfig': false,
};

// Headless Chromium as a test browser: nothing phones home, no sandbox (root).
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const DEFAULT_TEST_TIMEOUT_MS = 5 * 60_000;
const HEALTHZ_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const keepTemp = process.env.CCO_KEEP_TEMP === '1';
const debug = process.env.CCO_HARNESS_DEBUG === '1';

// ---------------------------------------------------------------------------
// Locating and provisioning code-server

function findRepoRoot(): string {
  // Works from test/harness (ts sources) and out/test/harness (compiled).
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && readJson(manifest)?.name === 'chef-consul-ops') {
      return dir;
    }
  }
  throw new Error(`cannot find the chef-consul-ops repository above ${__dirname}`);
}

export function codeServerEntry(): string {
  return (
    process.env.CCO_CODE_SERVER_ENTRY ??
    path.join(findRepoRoot(), 'test/code-server/node_modules/code-server/out/node/entry.js')
  );
}

/**
 * Returns entry.js, running scripts/provision-code-server.sh first when it is
 * missing — a fresh machine has nothing installed, and the script is cached.
 */
export function ensureCodeServer(): string {
  const entry = codeServerEntry();
  if (fs.existsSync(entry)) {
    return entry;
  }
  const script = path.join(findRepoRoot(), 'scripts/provision-code-server.sh');
  process.stderr.write(`[harness] code-server missing, running ${script}\n`);
  const result = spawnSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const printed = result.stdout?.trim().split('\n').pop();
  if (result.status !== 0 || !printed || !fs.existsSync(printed)) {
    throw new Error(`provisioning code-server failed (exit ${result.status})`);
  }
  return printed;
}

// ---------------------------------------------------------------------------
// Small helpers

function readJson(file: string): { [key: string]: unknown } | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function removeDirs(dirs: string[]): void {
  if (keepTemp) {
    return;
  }
  for (const dir of dirs) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const TIMED_OUT = Symbol('timed out');

/** Promise.race against a timer, without leaving the timer to hold the process open. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// Process groups: code-server forks a server child, extension hosts, a pty host
// and a file watcher. Starting it as a group leader lets us stop all of them by
// the one PID we own, without ever matching processes by name.

// Group leader PID -> temp dirs to remove once the group is gone.
const liveGroups = new Map<number, string[]>();
const TERMINATING_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

// Last resort when the runner exits or is interrupted without awaiting stop():
// a detached group would otherwise outlive us.
function killLiveGroups(): void {
  liveGroups.forEach((dirs, group) => {
    signalGroup(group, 'SIGKILL');
    removeDirs(dirs);
  });
}

function onTerminatingSignal(signal: NodeJS.Signals): void {
  killLiveGroups();
  // Listening replaced Node's default of terminating; keep that default unless
  // someone else (Playwright, with a browser open) handles the signal.
  if (process.listenerCount(signal) === 1) {
    process.exit(128 + os.constants.signals[signal]);
  }
}

function trackGroup(pid: number, tempDirs: string[]): void {
  if (liveGroups.size === 0) {
    process.on('exit', killLiveGroups);
    TERMINATING_SIGNALS.forEach((signal) => process.on(signal, onTerminatingSignal));
  }
  liveGroups.set(pid, tempDirs);
}

function untrackGroup(pid: number): void {
  if (liveGroups.delete(pid) && liveGroups.size === 0) {
    process.off('exit', killLiveGroups);
    TERMINATING_SIGNALS.forEach((signal) => process.off(signal, onTerminatingSignal));
  }
}

async function stopGroup(pid: number, exited: Promise<unknown>): Promise<void> {
  const tempDirs = liveGroups.get(pid) ?? [];
  signalGroup(pid, 'SIGTERM');
  await withTimeout(exited, STOP_GRACE_MS);
  // Children (extension host, pty host) may outlive the leader: sweep the group.
  for (let i = 0; i < 20 && signalGroup(pid, 0); i++) {
    signalGroup(pid, 'SIGKILL');
    await delay(100);
  }
  untrackGroup(pid);
  removeDirs(tempDirs);
}

function exitPromise(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
    } else {
      child.once('exit', (code) => resolve(code));
    }
  });
}

// ---------------------------------------------------------------------------
// code-server

// Variables code-server or the VS Code server read as their own configuration.
// Inherited from a developer's shell (e.g. running inside code-server's own
// terminal) they would move the port, demand a password, or make the new
// process believe it is the child of another code-server.
const RESERVED_ENV = /^(PORT|PASSWORD|HASHED_PASSWORD|GITHUB_TOKEN|CODE_SERVER_.*|VSCODE_.*|ELECTRON_RUN_AS_NODE|CS_DISABLE_.*)$/;

// code-server's default marketplace is open-vsx.org; the workbench queries it on
// start. An empty gallery turns the marketplace off (callers may set their own).
const OFFLINE_ENV: NodeJS.ProcessEnv = { EXTENSIONS_GALLERY: '{}' };

/**
 * The extension host's environment, made explicit.
 *
 * The VS Code server forks the extension host with
 * {...server env, ...login-shell env, VSCODE_* internals}, PATH prefixed with its
 * remote-cli dir, DEBUG and LD_PRELOAD removed. The login-shell part would run
 * `$SHELL -ilc env` and let /etc/profile overwrite what the test passed (Debian
 * resets PATH for root); VSCODE_CLI=1 is the server's switch to skip it.
 * So: what is returned here is what the extension's process.env sees.
 */
export function codeServerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries({ ...OFFLINE_ENV, ...process.env, ...extra })) {
    if (value !== undefined && !RESERVED_ENV.test(key)) {
      env[key] = value;
    }
  }
  env.VSCODE_CLI = '1';
  return env;
}

function prepareUserDataDir(userDataDir: string, settings: Record<string, unknown> = {}): void {
  writeJson(path.join(userDataDir, 'User', 'settings.json'), { ...DEFAULT_SETTINGS, ...settings });
}

// Without --config code-server reads, and on first run writes,
// ~/.config/code-server/config.yaml: the user's file must neither leak in nor be created.
function writeCodeServerConfig(userDataDir: string): string {
  const file = path.join(userDataDir, 'code-server.yaml');
  fs.mkdirSync(userDataDir, { recursive: true });
  fs.writeFileSync(file, 'auth: none\ncert: false\n');
  return file;
}

function commonArgs(userDataDir: string, extensionsDir: string): string[] {
  return [
    '--config', writeCodeServerConfig(userDataDir),
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
  ];
}

function healthz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

async function waitForHealthz(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + HEALTHZ_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`code-server exited (${child.exitCode ?? child.signalCode}) before answering:\n${tail(logFile)}`);
    }
    if (await healthz(port)) {
      return;
    }
    await delay(100);
  }
  throw new Error(`code-server did not answer /healthz within ${HEALTHZ_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

function spawnLogged(args: string[], env: NodeJS.ProcessEnv, logFile: string, cwd: string): ChildProcess {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'a');
  try {
    return spawn(process.execPath, args, { cwd, env, detached: true, stdio: ['ignore', log, log] });
  } finally {
    fs.closeSync(log);
  }
}

export async function startCodeServer(opts: StartCodeServerOptions = {}): Promise<CodeServerHandle> {
  const entry = ensureCodeServer();
  const tempDirs: string[] = [];
  const userDataDir = opts.userDataDir ?? pushed(tempDirs, makeTempDir('cco-vscode-user-'));
  const extensionsDir = opts.extensionsDir ?? pushed(tempDirs, makeTempDir('cco-vscode-ext-'));
  fs.mkdirSync(extensionsDir, { recursive: true });
  // With trust on and no prompt, a folder opens in Restricted Mode; callers may ask for the prompt.
  const trust = opts.workspaceTrust
    ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', ...opts.settings }
    : opts.settings;
  prepareUserDataDir(userDataDir, trust);
  const logFile = opts.logFile ?? path.join(userDataDir, 'code-server.log');
  const port = opts.port ?? (await findFreePort());

  const args = [
    entry,
    ...commonArgs(userDataDir, extensionsDir),
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    ...(opts.workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--ignore-last-opened',
  ];
  const child = spawnLogged(args, codeServerEnv(opts.env), logFile, userDataDir);
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start code-server: ${tail(logFile)}`);
  }
  trackGroup(pid, tempDirs);
  const exited = exitPromise(child);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= stopGroup(pid, exited));

  try {
    await waitForHealthz(port, child, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}/`, port, pid, userDataDir, extensionsDir, logFile, stop };
}

function pushed(list: string[], item: string): string {
  list.push(item);
  return item;
}

/** Installs a .vsix (or marketplace id) with code-server's CLI, as a user would. */
export function installExtension(opts: { vsix: string; extensionsDir: string; userDataDir: string }): void {
  const entry = ensureCodeServer();
  const result = spawnSync(
    process.execPath,
    [entry, ...commonArgs(opts.userDataDir, opts.extensionsDir), '--force', '--install-extension', opts.vsix],
    { env: codeServerEnv(), encoding: 'utf8', timeout: 120_000 },
  );
  if (result.status !== 0) {
    throw new Error(`installing ${opts.vsix} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

// ---------------------------------------------------------------------------
// Browser

/**
 * Debian's Chromium, never a Playwright download. Playwright gives every launch
 * a fresh temporary profile; XDG_CONFIG_HOME gets one of ours so Chromium's
 * config and crash-report dirs never touch the user's home.
 */
export async function launchBrowser(opts: { headless?: boolean } = {}): Promise<Browser> {
  const home = makeTempDir('cco-chromium-');
  try {
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: opts.headless ?? true,
      args: CHROMIUM_ARGS,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_CACHE_HOME: path.join(home, 'cache') },
    });
    browser.on('disconnected', () => removeDirs([home]));
    return browser;
  } catch (err) {
    removeDirs([home]);
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Workbench URLs

type Payload = Array<[string, string]>;

function remoteUri(server: CodeServerHandle, absPath: string): string {
  return `vscode-remote://127.0.0.1:${server.port}${path.resolve(absPath)}`;
}

function workbenchUrl(server: CodeServerHandle, folder: string | undefined, payload: Payload): string {
  const url = new URL(server.url);
  if (folder) {
    url.searchParams.set('folder', path.resolve(folder));
  }
  if (payload.length > 0) {
    url.searchParams.set('payload', JSON.stringify(payload));
  }
  return url.toString();
}

function developmentPayload(server: CodeServerHandle, extensionDevelopmentPath?: string, testsPath?: string): Payload {
  const payload: Payload = [['skipWelcome', 'true'], ['skipReleaseNotes', 'true']];
  if (extensionDevelopmentPath) {
    payload.push(['extensionDevelopmentPath', remoteUri(server, extensionDevelopmentPath)]);
  }
  if (testsPath) {
    payload.push(['extensionTestsPath', remoteUri(server, testsPath)]);
  }
  return payload;
}

// ---------------------------------------------------------------------------
// Extension tests in the extension host

/** The page reports log lines as a string or an argument array, depending on the logger. */
function formatAutomationLog(type: unknown, args: unknown): string {
  const text = Array.isArray(args) ? args.map(String).join(' ') : String(args);
  return type === 'info' || type === 'log' ? text : `[${String(type)}] ${text}`;
}

interface ExitSignal {
  promise: Promise<number>;
  resolve(code: number): void;
}

function exitSignal(): ExitSignal {
  let resolve!: (code: number) => void;
  const promise = new Promise<number>((r) => (resolve = r));
  return { promise, resolve };
}

async function screenshot(page: Page, dir: string, name: string): Promise<string | undefined> {
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.png`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: file, timeout: 10_000 });
    return file;
  } catch {
    return undefined; // the page may already be gone; the exit code still tells the story
  }
}

/** Wires the hooks the workbench calls in automation mode; must precede navigation. */
async function exposeAutomationHooks(page: Page, logs: string[], exit: ExitSignal): Promise<void> {
  await page.exposeFunction('codeAutomationLog', (type: unknown, args: unknown) => {
    const line = formatAutomationLog(type, args);
    logs.push(line);
    process.stdout.write(line + '\n');
  });
  await page.exposeFunction('codeAutomationExit', (code: unknown) => {
    exit.resolve(typeof code === 'number' ? code : EXIT_HARNESS_ERROR);
  });
  page.on('crash', () => exit.resolve(EXIT_HARNESS_ERROR));
  page.on('close', () => exit.resolve(EXIT_HARNESS_ERROR));
  if (debug) {
    page.on('console', (msg) => process.stderr.write(`[page ${msg.type()}] ${msg.text()}\n`));
    page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
  }
}

export async function runExtensionTests(opts: RunExtensionTestsOptions): Promise<{ exitCode: number; logs: string[] }> {
  const logs: string[] = [];
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  const screenshotDir = opts.screenshotDir ?? path.join(opts.extensionDevelopmentPath, 'test-results');
  let server: CodeServerHandle | undefined;
  let browser: Browser | undefined;
  try {
    server = await startCodeServer({ env: opts.env, settings: opts.settings, workspaceTrust: opts.workspaceTrust, userDataDir: opts.userDataDir });
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const exit = exitSignal();
    browser.on('disconnected', () => exit.resolve(EXIT_HARNESS_ERROR));
    await exposeAutomationHooks(page, logs, exit);

    const payload = developmentPayload(server, opts.extensionDevelopmentPath, opts.extensionTestsPath);
    await page.goto(workbenchUrl(server, opts.workspaceFolder, payload));

    const outcome = await withTimeout(exit.promise, timeoutMs);
    if (outcome === TIMED_OUT) {
      const shot = await screenshot(page, screenshotDir, 'extension-tests-timeout');
      report(logs, `[harness] extension tests timed out after ${timeoutMs} ms${shot ? `; screenshot ${shot}` : ''}`);
      return { exitCode: EXIT_TIMEOUT, logs };
    }
    if (outcome === EXIT_HARNESS_ERROR) {
      report(logs, `[harness] the workbench went away before the tests finished; code-server log:\n${tail(server.logFile)}`);
    }
    return { exitCode: outcome, logs };
  } catch (err) {
    report(logs, `[harness] ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return { exitCode: EXIT_HARNESS_ERROR, logs };
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.stop();
  }
}

function report(logs: string[], line: string): void {
  logs.push(line);
  process.stderr.write(line + '\n');
}

// ---------------------------------------------------------------------------
// Workbench for UI tests

export async function openWorkbench(opts: OpenWorkbenchOptions = {}): Promise<Workbench> {
  const tempDirs: string[] = [];
  const userDataDir = opts.userDataDir ?? pushed(tempDirs, makeTempDir('cco-vscode-user-'));
  const extensionsDir = opts.extensionsDir ?? pushed(tempDirs, makeTempDir('cco-vscode-ext-'));
  let server: CodeServerHandle | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    removeDirs(tempDirs);
  };
  try {
    if (opts.vsix) {
      installExtension({ vsix: opts.vsix, extensionsDir, userDataDir });
    }
    server = await startCodeServer({ port: opts.port, userDataDir, extensionsDir, env: opts.env, settings: opts.settings, workspaceTrust: opts.workspaceTrust });
    browser = await launchBrowser({ headless: opts.headless });
    const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
    await page.goto(workbenchUrl(server, opts.folder, developmentPayload(server, opts.extensionDevelopmentPath)));
    await page.waitForSelector('.monaco-workbench', { timeout: opts.timeoutMs ?? 60_000 });
    return { page, browser, server, close };
  } catch (err) {
    await close();
    throw err;
  }
}
