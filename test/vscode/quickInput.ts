/** A recording quick input factory for driving multi-step inputs from the extension host. */
import * as vscode from 'vscode';
import type { QuickInputFactory } from '../../src/vscode/multiStepInput';

/*
 * The flow runs in the workbench's real quick input, driven with the workbench's
 * own commands (Enter: acceptSelectedQuickOpenItem, the Back button:
 * quickInputBack). code-server 4.100 has no command that types into a quick
 * input from the extension host (default:type and paste reach editors only),
 * and a value set by an extension does not fire onDidChangeValue; so "typing"
 * sets the box's value and calls the flow's onDidChangeValue listeners with it,
 * as the workbench does on a keystroke.
 */

export interface Recording extends QuickInputFactory {
  boxes: vscode.InputBox[];
  picks: Array<vscode.QuickPick<vscode.QuickPickItem>>;
  /** What a keystroke does: the new value, then onDidChangeValue. */
  type(box: vscode.InputBox, text: string): void;
}

/** vscode.window's factories, keeping every box the flow creates. */
export function recording(): Recording {
  const boxes: vscode.InputBox[] = [];
  const picks: Array<vscode.QuickPick<vscode.QuickPickItem>> = [];
  const listeners = new Map<vscode.InputBox, Array<(v: string) => unknown>>();
  return {
    boxes,
    picks,
    createInputBox() {
      const real = vscode.window.createInputBox();
      const heard: Array<(v: string) => unknown> = [];
      const box = new Proxy(real, {
        get(target, prop) {
          if (prop === 'onDidChangeValue') {
            return (listener: (v: string) => unknown, thisArg?: unknown) => {
              const bound = (v: string) => listener.call(thisArg, v);
              heard.push(bound);
              const sub = real.onDidChangeValue(bound);
              return { dispose: () => (heard.splice(heard.indexOf(bound), 1), sub.dispose()) };
            };
          }
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
        set: (target, prop, value) => Reflect.set(target, prop, value, target),
      });
      listeners.set(box, heard);
      boxes.push(box);
      return box;
    },
    createQuickPick<T extends vscode.QuickPickItem>() {
      const pick = vscode.window.createQuickPick<T>();
      picks.push(pick as unknown as vscode.QuickPick<vscode.QuickPickItem>);
      return pick;
    },
    type(box, text) {
      box.value = text;
      for (const l of [...(listeners.get(box) ?? [])]) l(text);
    },
  };
}

