import * as assert from 'node:assert/strict';
import { parseFromPage } from '../../src/vscode/monitor/protocol';

describe('run monitor: messages from the page are checked', () => {
  it('passes the messages the page sends', () => {
    assert.deepEqual(parseFromPage({ type: 'frame' }), { type: 'frame' });
    assert.deepEqual(parseFromPage({ type: 'ready', state: { id: 'r1', node: 'web-1', phase: 2, follow: true } }), {
      type: 'ready',
      state: { id: 'r1', node: 'web-1', phase: 2, status: undefined, lineNumbers: undefined, timestamps: undefined, follow: true },
    });
    assert.deepEqual(parseFromPage({ type: 'action', action: { type: 'openLog', phase: 0, node: 'db-1' } }), { type: 'action', action: { type: 'openLog', phase: 0, node: 'db-1' } });
    assert.deepEqual(parseFromPage({ type: 'action', action: { type: 'saveLog' } }), { type: 'action', action: { type: 'saveLog', phase: undefined, node: undefined } });
  });

  it('drops unknown fields, so nothing else reaches a command', () => {
    assert.deepEqual(parseFromPage({ type: 'action', action: { type: 'cancel', id: 'someone-elses-run', confirm: 'prod' } }), { type: 'action', action: { type: 'cancel' } });
  });

  it('refuses what is not a message or has the wrong field types', () => {
    for (const bad of [
      null,
      'frame',
      { type: 'eval', code: '1' },
      { type: 'state' },
      { type: 'state', state: { id: 42 } },
      { type: 'action', action: { type: 'retryFailed', phase: '1; rm -rf /' } },
      { type: 'action', action: { type: 'retryFailed', phase: -1 } },
      { type: 'action', action: { type: 'openChefReport', phase: 1, node: '' } },
      { type: 'action', action: { type: 'openLog', phase: 1.5, node: 'n' } },
      { type: 'action', action: { type: 'copy', text: 7 } },
      { type: 'action', action: { type: 'executeCommand', command: 'workbench.action.terminal.new' } },
    ]) {
      assert.equal(parseFromPage(bad), undefined, JSON.stringify(bad));
    }
  });

  it('a ready with a malformed saved state still loads the page, without the state', () => {
    assert.deepEqual(parseFromPage({ type: 'ready', state: { id: 'x', phase: 'two' } }), { type: 'ready' });
  });
});
