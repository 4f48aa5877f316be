/** Finding our views in the real workbench DOM; shared by UI tests and the sandbox check. */
import type { Locator, Page } from 'playwright-core';

export async function openChefConsulContainer(page: Page): Promise<void> {
  const tab = page.locator('.activitybar .action-item a[aria-label^="Chef + Consul"], .activitybar .action-item[aria-label^="Chef + Consul"]').first();
  await tab.waitFor({ timeout: 60_000 });
  // After a reload the container may be open already (a click would close it), and the
  // workbench may mark it open only after the tab shows: look again until the Nodes pane is there.
  const active = page.locator('.activitybar .action-item.checked').filter({ has: page.locator('[aria-label^="Chef + Consul"]') });
  const nodes = viewPane(page, 'Nodes');
  const deadline = Date.now() + 30_000;
  while (!(await nodes.isVisible())) {
    if (Date.now() > deadline) return nodes.waitFor({ timeout: 1 });
    if (!(await active.count())) await tab.click();
    await nodes.waitFor({ timeout: 3_000 }).catch(() => undefined);
  }
}

/** The pane of one view in the side bar, by its title. */
export function viewPane(page: Page, title: string): Locator {
  return page.locator('.sidebar .pane').filter({ has: page.locator('.pane-header', { hasText: new RegExp(`^\\s*${title}`, 'i') }) });
}

export function viewRow(page: Page, title: string, text: string): Locator {
  return viewPane(page, title).locator('.monaco-list-row').filter({ hasText: text }).first();
}

/** Expands a collapsed view pane (the Services pane starts collapsed when the side bar is short). */
export async function expandPane(page: Page, title: string): Promise<void> {
  const header = viewPane(page, title).locator('.pane-header').first();
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
}

export async function collapsePane(page: Page, title: string): Promise<void> {
  const header = viewPane(page, title).locator('.pane-header').first();
  if ((await header.getAttribute('aria-expanded')) === 'true') await header.click();
}

export async function rowLabels(page: Page, title: string): Promise<string[]> {
  return viewPane(page, title).locator('.monaco-list-row .label-name').allInnerTexts();
}

/** Runs a command from the palette (F1); `pick` answers the quick pick it opens. */
export async function runFromPalette(page: Page, command: string, pick?: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${command}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: command }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  if (pick === undefined) return;
  await page.locator('.quick-input-list .monaco-list-row', { hasText: pick }).first().waitFor({ timeout: 15_000 });
  await input.fill(pick);
  await page.keyboard.press('Enter');
}

/**
 * Opens a workspace file by name through Quick Open (Ctrl+P) and waits for its tab to be the
 * active one. A Quick Open opened while the workbench still restores may lose its focus (and
 * close): then it is opened again.
 */
export async function openFile(page: Page, name: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const activeTab = page.locator('.tabs-container .tab.active', { hasText: name.split('/').pop() ?? name }).first();
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.keyboard.press('Control+P');
    try {
      await input.waitFor({ timeout: 10_000 });
      await page.waitForFunction("!!document.activeElement && !!document.activeElement.closest('.quick-input-widget')", undefined, { timeout: 5_000 });
      await input.fill(name);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      await activeTab.waitFor({ timeout: 15_000 });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await page.keyboard.press('Escape');
    }
  }
}

/**
 * Runs `action`, which reloads the window (Developer: Reload Window), and waits for the new
 * page: the old one stays until the workbench has flushed its state, so waiting for
 * `.monaco-workbench` alone can match the page being unloaded.
 */
export async function reloadWindow(page: Page, action: () => Promise<void>): Promise<void> {
  await Promise.all([page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 60_000 }), action()]);
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
}

/**
 * Lets the walkthrough page run its pending focus: it focuses a step it selects 250 ms later,
 * on a timer (VS Code's gettingStarted.ts, selectStep), and a quick pick opened from the page
 * before then loses focus to the step and closes. Waits until the focus is in the open step
 * (for a step the page selected itself), then 400 ms on the page's own timers (a timer set
 * after the page's runs after it).
 */
export async function settleWalkthroughFocus(page: Page): Promise<void> {
  await page
    .waitForFunction("!!document.activeElement && !!document.activeElement.closest('.getting-started-step.expanded')", undefined, { timeout: 5_000 })
    .catch(() => undefined);
  await page.evaluate('new Promise((resolve) => setTimeout(resolve, 400))');
}

/**
 * Clicks a button of a notification: on its toast while it shows, else in the notification
 * center (information toasts with buttons hide after a while, and at most three show).
 */
export async function clickNotificationButton(page: Page, text: string, button: string): Promise<void> {
  const toast = page.locator('.notifications-toasts .notification-toast').filter({ hasText: text }).first();
  if (await toast.isVisible()) {
    try {
      await toast.hover({ timeout: 5_000 });
      await toast.locator('a.monaco-button, .monaco-button', { hasText: button }).first().click({ timeout: 5_000 });
      return;
    } catch {
      // Hidden meanwhile: the notification center has it.
    }
  }
  await runFromPalette(page, 'Notifications: Show Notifications');
  const item = page.locator('.notifications-center .monaco-list-row').filter({ hasText: text }).first();
  await item.waitFor({ timeout: 10_000 });
  await item.hover();
  await item.locator('a.monaco-button, .monaco-button', { hasText: button }).first().click({ timeout: 10_000 });
  await runFromPalette(page, 'Notifications: Hide Notifications');
}
