// Test entry point loaded by the extension host (code-server via
// test/harness/codeServer.ts, or desktop VS Code via @vscode/test-electron):
// both call run() and turn a rejection into a non-zero exit code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import Mocha from 'mocha';

function findTestFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        return findTestFiles(full);
      }
      return entry.isFile() && entry.name.endsWith('.test.js') ? [full] : [];
    })
    .sort();
}

// The workbench forwards console.log(format, ...args) from the extension host
// without applying the format, so mocha's "%s passing" lines would arrive
// as raw templates. Format here and hand over a single finished string.
function printFormatted(): void {
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(util.format(...args));
}

// CCO_VSCODE_FILES="smoke,views" loads only test files whose path (relative to
// this directory) contains one of the parts. Unlike grep it also skips loading,
// so one suite's module-level setup cannot break another run.
function selectedByEnv(file: string): boolean {
  const parts = (process.env.CCO_VSCODE_FILES ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const relative = path.relative(__dirname, file);
  return parts.length === 0 || parts.some((part) => relative.includes(part));
}

export async function run(): Promise<void> {
  printFormatted();
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 60_000,
    color: false,
    grep: process.env.CCO_VSCODE_GREP || undefined,
    // A stray .only fails the run instead of narrowing it.
    forbidOnly: true,
    // The spec reporter plus the closing counts scripts/test.mjs reads (compiled layout: out/test/vscode → repo root).
    reporter: path.resolve(__dirname, '..', '..', '..', 'scripts', 'mocha-reporter.cjs'),
  });
  // Compiled layout: this file is out/test/vscode/index.js next to the tests.
  // test/vscode/restricted/ runs alone, in a window whose folder is not trusted.
  const restricted = process.env.CCO_VSCODE_SUITE === 'restricted';
  const inSuite = (file: string) => path.relative(__dirname, file).startsWith(`restricted${path.sep}`) === restricted;
  const files = findTestFiles(__dirname).filter(inSuite).filter(selectedByEnv);
  if (!files.length && !process.env.CCO_VSCODE_FILES) throw new Error(`no test file selected for the ${restricted ? 'restricted' : 'trusted'} suite`);
  for (const file of files) {
    mocha.addFile(file);
  }
  await mocha.loadFilesAsync();
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) {
    throw new Error(`${failures} extension test(s) failed`);
  }
}
