/** task.yml builders shared by the engine tests: one `deploy` event, one phase on the db service. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mergeEvents } from '../../src/core/plans/merge';
import { parsePlan } from '../../src/core/plans/parse';

/** `deploy` → one phase on the db service running task `t`, whose operations are given as YAML indented by 6; optional task timeout (s). */
export function dbTaskYaml(operations: string, timeout?: number): string {
  return `events:
  deploy:
    ordered_tasks:
      - service: db
        task: t
tasks:
  t:
${timeout ? `    timeout: ${timeout}\n` : ''}    operations:
${operations}`;
}

/** The same with one `execute: script`. */
export function dbScriptYaml(script: string, timeout?: number): string {
  return dbTaskYaml(`      - execute:\n          script: ${script}\n`, timeout);
}

/**
 * Writes the task.yml into `folder` (a new temp folder by default), parses and
 * merges it as the editor would, and asserts it has no error.
 */
export function planIn(yaml: string, opts: { folder?: string; event?: string } = {}) {
  const folder = opts.folder ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cco-pattern-'));
  const file = path.join(folder, 'task.yml');
  fs.writeFileSync(file, yaml);
  const { plan, diagnostics } = parsePlan(yaml, file, { fileExists: fs.existsSync });
  assert.ok(plan, JSON.stringify(diagnostics));
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error'), []);
  const event = opts.event ?? 'deploy';
  const merged = mergeEvents([plan])?.get(event);
  assert.ok(merged, `event ${event}`);
  return { plans: [plan], merged, folder };
}
