/**
 * task.yml → PatternPlan + diagnostics, with every problem placed at the line
 * and column it comes from. Never throws: whatever the input, the worst
 * outcome is `plan: undefined` and a diagnostic saying why.
 *
 * What counts as a problem follows what metronome does with the file: it loads
 * task.yml through YAML → JSON → Go structs, so a wrong type in an event or a
 * task makes it refuse the whole file (error), while a wrong type inside an
 * operation, or a key it does not know, is silently dropped (warning).
 */
import { Diagnostics } from './diagnostics';
import type { PatternPlan, PlanDiagnostic } from './model';
import { PlanReader } from './planReader';
import { LineIndex } from './positions';
import { readYaml } from './yamlTree';

export { closest } from './diagnostics';

export interface ParseOptions {
  /** Lets the parser check `execute: { file }` against the pattern folder. */
  fileExists?: (absPath: string) => boolean;
}

export interface ParseResult {
  plan: PatternPlan | undefined;
  diagnostics: PlanDiagnostic[];
}

export function parsePlan(source: string, filePath: string, opts: ParseOptions = {}): ParseResult {
  const text = typeof source === 'string' ? source : '';
  const lines = new LineIndex(text);
  const diags = new Diagnostics(lines);
  try {
    const doc = readYaml(text, diags);
    if (!doc.ok) return { plan: undefined, diagnostics: diags.list };
    const plan = new PlanReader(diags, filePath, opts).read(doc.root);
    return { plan, diagnostics: sortByPosition(diags.list) };
  } catch (e) {
    // A bug here must not take the editor's Problems panel down with it.
    diags.list.push({
      severity: 'error',
      code: 'parse-internal',
      message: `Could not check this task.yml: ${e instanceof Error ? e.message : String(e)}`,
      range: lines.range(0, 0),
    });
    return { plan: undefined, diagnostics: diags.list };
  }
}

function sortByPosition(list: PlanDiagnostic[]): PlanDiagnostic[] {
  return list.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}
