/**
 * One multi-step input flow in a single quick input: step counts ("n/m"),
 * a Back button to the previous step with every value kept, and validation
 * as the user types. Steps read and write a state object, so a step shows
 * what was entered (or prefilled) before, whichever way the user got there.
 */
import * as vscode from 'vscode';

/** What a step's validation says: a message (string = error), or nothing. */
export type StepValidation = string | vscode.InputBoxValidationMessage | undefined;

/** An extra title-bar button on a step (a link to settings, say). */
export interface StepButton {
  button: vscode.QuickInputButton;
  run(): void | Thenable<unknown>;
}

interface StepBase {
  buttons?: StepButton[];
}

export interface TextStep<S> extends StepBase {
  kind: 'text';
  prompt: string;
  placeholder?: string;
  get(state: S): string | undefined;
  set(state: S, value: string): void;
  /** Runs on every keystroke; an error (a string or Error severity) blocks Enter, Info and Warning do not. */
  validate?(value: string, state: S): StepValidation;
}

export interface PickStep<S> extends StepBase {
  kind: 'pick';
  placeholder: string;
  items: Array<vscode.QuickPickItem & { value: string }>;
  /** Several values at once: get/set take them joined with `,` (empty: none); Enter accepts the checked ones. */
  many?: boolean;
  get(state: S): string | undefined;
  set(state: S, value: string): void;
}

export type Step<S> = TextStep<S> | PickStep<S>;

/** The quick input factories the flow uses (vscode.window; tests may pass their own). */
export interface QuickInputFactory {
  createInputBox(): vscode.InputBox;
  createQuickPick<T extends vscode.QuickPickItem>(): vscode.QuickPick<T>;
}

/** Back keeps what the step shows (a text step's typed value), or the state's value when it says nothing. */
type Outcome = { kind: 'next'; value: string } | { kind: 'back'; value?: string } | { kind: 'cancel' };

export function blocks(v: StepValidation): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') return v.length > 0;
  return v.severity === vscode.InputBoxValidationSeverity.Error;
}

/**
 * Runs the steps over `state`, from the first; returns the state when the
 * last step is accepted, undefined when the user cancels (Escape or focus lost).
 */
export async function runSteps<S>(title: string, steps: Array<Step<S>>, state: S, ui: QuickInputFactory = vscode.window): Promise<S | undefined> {
  let index = 0;
  while (index < steps.length) {
    const step = steps[index];
    const position = { step: index + 1, total: steps.length };
    const outcome = step.kind === 'text' ? await showText(ui, title, step, state, position) : await showPick(ui, title, step, state, position);
    if (outcome.kind === 'cancel') return undefined;
    if (outcome.value !== undefined) step.set(state, outcome.value);
    index += outcome.kind === 'next' ? 1 : -1;
  }
  return state;
}

interface Position {
  step: number;
  total: number;
}

function setUp(input: vscode.InputBox | vscode.QuickPick<vscode.QuickPickItem>, title: string, step: Step<unknown>, at: Position): void {
  input.title = title;
  input.step = at.step;
  input.totalSteps = at.total;
  input.ignoreFocusOut = true;
  input.buttons = [...(at.step > 1 ? [vscode.QuickInputButtons.Back] : []), ...(step.buttons ?? []).map((b) => b.button)];
}

function settle(
  input: vscode.InputBox | vscode.QuickPick<vscode.QuickPickItem>,
  step: Step<unknown>,
  current: () => string | undefined,
  accept: (done: (o: Outcome) => void) => void,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const disposables: vscode.Disposable[] = [];
    let finished = false;
    const done = (o: Outcome) => {
      if (finished) return;
      finished = true;
      disposables.forEach((d) => d.dispose());
      input.hide();
      input.dispose();
      resolve(o);
    };
    disposables.push(
      input.onDidTriggerButton((b) => {
        if (b === vscode.QuickInputButtons.Back) {
          done({ kind: 'back', value: current() });
          return;
        }
        void step.buttons?.find((x) => x.button === b)?.run();
      }),
      input.onDidAccept(() => accept(done)),
      input.onDidHide(() => done({ kind: 'cancel' })),
    );
    input.show();
  });
}

function showText<S>(ui: QuickInputFactory, title: string, step: TextStep<S>, state: S, at: Position): Promise<Outcome> {
  const box = ui.createInputBox();
  setUp(box, title, step as Step<unknown>, at);
  box.prompt = step.prompt;
  box.placeholder = step.placeholder;
  box.value = step.get(state) ?? '';
  const check = (v: string) => {
    const result = step.validate?.(v, state);
    box.validationMessage = result;
    return result;
  };
  const changed = box.onDidChangeValue(check);
  check(box.value);
  return settle(box, step as Step<unknown>, () => box.value, (done) => {
    if (!blocks(check(box.value))) done({ kind: 'next', value: box.value });
  }).finally(() => changed.dispose());
}

function showPick<S>(ui: QuickInputFactory, title: string, step: PickStep<S>, state: S, at: Position): Promise<Outcome> {
  const pick = ui.createQuickPick<vscode.QuickPickItem & { value: string }>();
  setUp(pick as vscode.QuickPick<vscode.QuickPickItem>, title, step as Step<unknown>, at);
  pick.placeholder = step.placeholder;
  const currentValue = step.get(state);
  const currentValues = new Set(step.many ? (currentValue ?? '').split(',').filter(Boolean) : currentValue !== undefined ? [currentValue] : []);
  pick.canSelectMany = step.many === true;
  // The current value (or values) is marked in its description and selected.
  pick.items = step.items.map((i) =>
    currentValues.has(i.value) ? { ...i, description: [i.description, vscode.l10n.t('current')].filter(Boolean).join(' · ') } : i,
  );
  const current = pick.items.filter((i) => currentValues.has(i.value));
  if (step.many) pick.selectedItems = current;
  else if (current.length) pick.activeItems = [current[0]];
  // Back keeps what is checked on a many-pick, as a text step keeps what was typed.
  const shown = () => (step.many ? pick.selectedItems.map((i) => i.value).join(',') : undefined);
  return settle(pick as vscode.QuickPick<vscode.QuickPickItem>, step as Step<unknown>, shown, (done) => {
    if (step.many) {
      done({ kind: 'next', value: shown() ?? '' });
      return;
    }
    const chosen = pick.selectedItems[0] ?? pick.activeItems[0];
    if (chosen) done({ kind: 'next', value: chosen.value });
  });
}
