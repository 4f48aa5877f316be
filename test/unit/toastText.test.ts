import * as assert from 'node:assert/strict';
import { errorToastText, MAX_TOAST_CHARS, plainToastText } from '../../src/core/util/toastText';

describe('Toast text (error messages and notifications)', () => {
  it('breaks every markdown link a server or node could smuggle in, on one line', () => {
    const evil = 'The Chef server answered 500; the server said: [Click to fix](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%22%7D)\n[x](https://evil.example)';
    const text = errorToastText(evil);
    assert.ok(!text.includes(']('), text);
    assert.ok(!text.includes('\n'), text);
    assert.equal(plainToastText('a](b'), 'a] (b');
  });

  it('clips a long error to MAX_TOAST_CHARS', () => {
    const text = errorToastText(`x${'y'.repeat(5000)}`);
    assert.equal(text.length, MAX_TOAST_CHARS);
    assert.ok(text.endsWith('…'));
  });
});
