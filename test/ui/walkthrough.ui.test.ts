/**
 * The walkthrough as a person follows it: the packaged .vsix in code-server,
 * the walkthrough page opened first, then each step done for real in the
 * workbench (select the profile, show the Nodes view, open a task.yml, run an
 * event against the test cluster, open the Runs view), each step checked off
 * on the page as it is done and none before. Screenshots in
 * test-results/walkthrough-start.png and test-results/walkthrough-done.png.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { openWorkbench, Workbench } from '../harness/codeServer';
import { clusterFromEnv, serverAgent } from '../support/env';
import { collapsePane, expandPane, openChefConsulContainer, runFromPalette, settleWalkthroughFocus, viewPane, viewRow } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
const VSIX = path.join(ROOT, 'chef-consul-ops.vsix');
const WALKTHROUGH = 'Get started with Chef + Consul Ops';
const STEPS = ['Connect to Consul', 'Browse nodes and services', 'Open a task.yml', 'Run an event', 'Watch it'];
const EVENT = 'walk-hello';

/** The titles of the walkthrough's steps shown as done on the page, in page order. */
async function completedSteps(page: Page): Promise<string[]> {
  // A string: this project's TypeScript has no DOM library.
  return page.evaluate(`(() => {
    const titles = ${JSON.stringify(STEPS)};
    const done = [];
    for (const step of document.querySelectorAll('.getting-started-step')) {
      const title = titles.find((t) => (step.textContent || '').includes(t));
      // The step's checkbox codicon gets 'complete' once the step is done.
      if (title && step.querySelector('.codicon.complete')) done.push(title);
    }
    return done;
  })()`);
}

/** Waits until exactly `expected` (in step order) are checked off on the walkthrough page. */
async function expectCompleted(page: Page, expected: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let seen = await completedSteps(page);
  while (JSON.stringify(seen) !== JSON.stringify(expected) && Date.now() < deadline) {
    await page.waitForTimeout(250);
    seen = await completedSteps(page);
  }
  assert.deepEqual(seen, expected);
}

/** Brings the walkthrough's editor tab to the front again. */
async function showWalkthrough(page: Page): Promise<void> {
  // Opened as a preview, its tab gives way to the next editor opened: then it is opened again.
  const tab = page.locator('.tabs-container .tab', { hasText: /Walkthrough/ }).first();
  if (await tab.count()) await tab.click();
  else await runFromPalette(page, 'Welcome: Open Walkthrough', WALKTHROUGH);
  await page.locator('.getting-started-step', { hasText: STEPS[0] }).first().waitFor({ state: 'visible', timeout: 15_000 });
}

/**
 * Selects a step on the page (its title is a button; selecting an open step keeps it open) and
 * returns it once the page is done selecting it.
 */
async function openStep(page: Page, title: string) {
  const step = page.locator('.getting-started-step', { hasText: title }).first();
  await step.locator('h3, .step-title').first().click();
  await page.locator('.getting-started-step.expanded', { hasText: title }).first().waitFor({ timeout: 10_000 });
  // The page focuses a step it selects 250 ms later (and selects one itself when its tab comes
  // back): a quick pick opened from the step before then would close. A person reads the step first.
  await settleWalkthroughFocus(page);
  return step;
}

describe('UI: the walkthrough, step by step', function () {
  this.timeout(240_000);
  const cluster = clusterFromEnv();
  const server = serverAgent(cluster);
  let wb: Workbench | undefined;
  let folder: string;

  before(async () => {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first (npm test does)`);
    fs.mkdirSync(RESULTS, { recursive: true });
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-ui-walk-'));
    fs.mkdirSync(path.join(folder, 'hello'));
    fs.writeFileSync(
      path.join(folder, 'hello', 'task.yml'),
      `events:\n  ${EVENT}:\n    ordered_tasks:\n      - service: db\n        task: hello\ntasks:\n  hello:\n    operations:\n      - execute:\n          script: echo hello from the walkthrough\n`,
    );
    // Starts on a profile nobody answers at: the Connect step is done by selecting the cluster's.
    wb = await openWorkbench({
      vsix: VSIX,
      folder,
      env: { CONSUL_HTTP_ADDR: server.httpAddr },
      settings: {
        'chefConsul.profiles': [
          { name: 'walk-off', address: '127.0.0.1:1' },
          { name: 'walk-main', address: server.httpAddr },
        ],
        'chefConsul.activeProfile': 'walk-off',
        // The Watch step is done by the person, not by the run.
        'chefConsul.openMonitorOnRun': false,
      },
      viewport: { width: 1400, height: 900 },
    });
  });

  afterEach(async function () {
    const name = (this.currentTest?.title ?? '').replace(/[^a-z]+/gi, '-').slice(0, 40);
    if (this.currentTest?.state === 'failed') await wb?.page.screenshot({ path: path.join(RESULTS, `walkthrough-failed-${name}.png`) }).catch(() => undefined);
  });

  after(async () => {
    await wb?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  it('opens with no step done', async () => {
    const page = wb!.page;
    // Phases (expanded by default) would check off the task.yml step with the Nodes one: collapsed first,
    // then the side bar goes back to the Explorer, before the walkthrough opens.
    await openChefConsulContainer(page);
    await collapsePane(page, 'Phases');
    await page.locator('.activitybar .action-item a[aria-label^="Explorer"], .activitybar .action-item[aria-label^="Explorer"]').first().click();
    await viewPane(page, 'Nodes').waitFor({ state: 'hidden', timeout: 10_000 });
    await runFromPalette(page, 'Welcome: Open Walkthrough', WALKTHROUGH);
    await page.locator('.getting-started-step', { hasText: STEPS[STEPS.length - 1] }).first().waitFor({ timeout: 30_000 });
    await expectCompleted(page, []);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(RESULTS, 'walkthrough-start.png') });
  });

  it('Connect to Consul: the step\'s own "Select a profile", the cluster\'s profile', async () => {
    const page = wb!.page;
    const step = await openStep(page, STEPS[0]);
    await step.locator('a, .monaco-button', { hasText: 'Select a profile' }).first().click();
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'walk-main' }).first().click();
    await expectCompleted(page, STEPS.slice(0, 1));
  });

  it('Browse nodes and services: the Nodes view lists the cluster', async () => {
    const page = wb!.page;
    await openChefConsulContainer(page);
    await expandPane(page, 'Nodes');
    for (const agent of cluster.agents) await viewRow(page, 'Nodes', agent.name).waitFor({ timeout: 30_000 });
    await expectCompleted(page, STEPS.slice(0, 2));
  });

  it('Open a task.yml: its editor with the Run CodeLens checks the step off', async () => {
    const page = wb!.page;
    // From the Explorer, as the step says.
    await page.locator('.activitybar .action-item a[aria-label^="Explorer"], .activitybar .action-item[aria-label^="Explorer"]').first().click();
    const explorer = page.locator('.sidebar .explorer-folders-view');
    await explorer.locator('.monaco-list-row', { hasText: 'hello' }).first().click();
    await explorer.locator('.monaco-list-row', { hasText: 'task.yml' }).first().dblclick();
    await page.locator('.tabs-container .tab', { hasText: 'task.yml' }).first().waitFor({ timeout: 15_000 });
    await page.locator('.codelens-decoration a', { hasText: 'Run event' }).first().waitFor({ timeout: 30_000 });
    // The step completes on chefConsul.taskYmlOpen, which the extension sets while a task.yml is the active editor.
    await showWalkthrough(page);
    await expectCompleted(page, STEPS.slice(0, 3));
  });

  it('Run an event: the step\'s own "Run Event…", a real run on the cluster', async () => {
    const page = wb!.page;
    const step = await openStep(page, STEPS[3]);
    await step.locator('a, .monaco-button', { hasText: 'Run Event' }).first().click();
    await page.locator('.quick-input-list .monaco-list-row', { hasText: EVENT }).first().click();
    await showWalkthrough(page);
    await expectCompleted(page, STEPS.slice(0, 4));
  });

  it('Watch it: the Runs view shows the run', async () => {
    const page = wb!.page;
    await openChefConsulContainer(page);
    await collapsePane(page, 'Nodes');
    await expandPane(page, 'Runs');
    // The run ran on the cluster's db node and succeeded.
    await viewPane(page, 'Runs').locator('.monaco-list-row', { hasText: new RegExp(`${EVENT}.*success`) }).first().waitFor({ timeout: 30_000 });
    await showWalkthrough(page);
    await expectCompleted(page, STEPS);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(RESULTS, 'walkthrough-done.png') });
  });
});
