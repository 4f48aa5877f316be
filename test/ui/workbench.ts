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

/** Opens a workspace file by name through Quick Open (Ctrl+P) and waits for its editor. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 15_000 });
}
