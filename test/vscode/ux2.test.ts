import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { FireEventRequest } from '../../src/core/consul/events';
import { askProfile } from '../../src/vscode/commands/connectionCommands';
import { ask } from '../../src/vscode/commands/eventCommands';
import { eventually } from '../support/env';
import { activateExtension } from './support';
import { Recording, recording } from './quickInput';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Multi-step inputs (Fire Event, Add Profile): step counts, Back, validation as the user types', function () {
  this.timeout(60_000);

  before(async () => {
    await activateExtension();
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
  });

  function driver(ui: Recording) {
    const box = () => ui.boxes[ui.boxes.length - 1];
    /** Waits for the n-th box the flow shows (1-based) and checks its step. */
    const shown = async (n: number, step: number, value: string) => {
      const b = await eventually(`box ${n} (step ${step})`, () => (ui.boxes.length === n ? ui.boxes[n - 1] : undefined), 15_000);
      assert.equal(b.step, step, `box ${n} is step ${step}`);
      assert.equal(b.totalSteps, 5);
      assert.equal(b.title, 'Fire Consul Event');
      assert.equal(b.value, value, `step ${step} shows "${value}"`);
      assert.equal(b.buttons.includes(vscode.QuickInputButtons.Back), step > 1, `Back on step ${step}`);
      await pause(200);
    };
    /** Sets the value as typing does and waits for the validation to answer. */
    const type = async (text: string, expect: RegExp | undefined) => {
      const b = box();
      ui.type(b, text);
      const message = () => {
        const m = b.validationMessage;
        return typeof m === 'string' ? m : m?.message;
      };
      await eventually(`validation of "${text}"`, () => (expect ? expect.test(message() ?? '') : message() === undefined) || undefined, 5_000);
    };
    const enter = async () => {
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      await pause(300);
    };
    const back = async () => {
      await vscode.commands.executeCommand('workbench.action.quickInputBack');
      await pause(300);
    };
    return { box, shown, type, enter, back };
  }

  it('goes Back with values kept both ways, validates as the user types, and blocks Enter on an error', async () => {
    const ui = recording();
    const { shown, type, enter, back } = driver(ui);
    const result: Promise<FireEventRequest | undefined> = ask({}, ui);

    await shown(1, 1, '');
    await type('has space', /must not contain/);
    await enter();
    assert.equal(ui.boxes.length, 1, 'Enter does nothing while the name is invalid');
    await type('ux2-deploy', undefined);
    await enter();

    await shown(2, 2, '');
    await type('pay-1', /bytes left of the 512-byte event/); // Info: does not block
    await back();
    await shown(3, 1, 'ux2-deploy');
    await enter();
    await shown(4, 2, 'pay-1');
    await type('x'.repeat(600), /bytes over the 512-byte event limit/);
    await enter();
    assert.equal(ui.boxes.length, 4, 'Enter does nothing while the payload is too big');
    await type('pay-2', /bytes left/);
    await enter();

    await shown(5, 3, '');
    await type('web-(', /./); // not a Go regular expression
    await enter();
    assert.equal(ui.boxes.length, 5);
    await type('^web-1$', undefined);
    await enter();
    await shown(6, 4, '');
    await enter();
    await shown(7, 5, '');
    await type('v2', /needs a service filter/);
    await back();
    await shown(8, 4, '');
    await type('^api$', undefined);
    await enter();
    await shown(9, 5, 'v2');
    await eventually('the tag validated again', () => (ui.boxes[8].validationMessage === undefined ? true : undefined), 5_000);
    await enter();

    assert.deepEqual(await result, { name: 'ux2-deploy', payload: 'pay-2', node: '^web-1$', service: '^api$', tag: 'v2' });
  });

  it('starts from the tree item prefill and cancels with Escape', async () => {
    const ui = recording();
    const { shown, type, enter } = driver(ui);
    const result = ask({ node: '^db-1$' }, ui);
    await shown(1, 1, '');
    await type('ux2-cancel', undefined);
    await enter();
    await shown(2, 2, '');
    await enter();
    await shown(3, 3, '^db-1$');
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await result, undefined);
  });

  it('Add Profile: four steps, a Settings button for TLS, production as a pick marking the current value, Back kept', async () => {
    const ui = recording();
    const { type, enter, back } = driver(ui);
    const box = async (n: number, step: number, value: string) => {
      const b = await eventually(`box ${n}`, () => (ui.boxes.length === n ? ui.boxes[n - 1] : undefined), 15_000);
      assert.deepEqual([b.title, b.step, b.totalSteps, b.value], ['Add Consul Profile', step, 4, value]);
      await pause(200);
      return b;
    };
    const pick = async (n: number) => {
      const p = await eventually(`pick ${n}`, () => (ui.picks.length === n ? ui.picks[n - 1] : undefined), 15_000);
      assert.deepEqual([p.title, p.step, p.totalSteps], ['Add Consul Profile', 4, 4]);
      assert.ok(p.buttons.includes(vscode.QuickInputButtons.Back));
      await pause(200);
      return p;
    };
    const result = askProfile(['Environment'], ui);
    await box(1, 1, '');
    await type('Environment', /exists/);
    await enter();
    assert.equal(ui.boxes.length, 1);
    await type('ux2-new', undefined);
    await enter();
    const address = await box(2, 2, '127.0.0.1:8500');
    assert.ok(address.buttons.some((b) => b.iconPath instanceof vscode.ThemeIcon && b.iconPath.id === 'settings-gear' && /TLS/.test(b.tooltip ?? '')));
    await type('https://127.0.0.1:8501', undefined);
    await enter();
    await box(3, 3, '');
    await enter();
    const first = await pick(1);
    assert.deepEqual(first.activeItems.map((i) => i.label), ['Not production']);
    assert.match(first.activeItems[0].description ?? '', /current/);
    await back();
    await box(4, 3, '');
    await type('dc9', undefined);
    await back();
    await box(5, 2, 'https://127.0.0.1:8501');
    await enter();
    await box(6, 3, 'dc9');
    await enter();
    const second = await pick(2);
    second.activeItems = [second.items[1]];
    await pause(300);
    await enter();
    assert.deepEqual(await result, { name: 'ux2-new', address: 'https://127.0.0.1:8501', datacenter: 'dc9', production: true });
  });
});
