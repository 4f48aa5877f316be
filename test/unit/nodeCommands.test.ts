import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fillCommandTemplate, MAX_ARG_BYTES, TemplateQuoteError } from '../../src/core/exec/shellQuote';
import type { Operation } from '../../src/core/plans/model';
import { parsePlan } from '../../src/core/plans/parse';
import {
  commandFromTemplate,
  DEFAULT_OPERATION_SETTINGS,
  MAX_SCRIPT_BYTES,
  nodeCommand,
  OperationRefusedError,
  readPatternFile,
  scriptRunner,
} from '../../src/core/runs/operationCommands';
import { unsupportedOperationKeys } from '../../src/core/runs/unsupportedOperations';
import { limit } from '../support/timing';

const R = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
const chef = (runList: string[], extra: Partial<Extract<Operation, { type: 'chef' }>> = {}): Operation => ({ type: 'chef', runList, attributeKeys: [], keyRange: R, valueRange: R, ...extra });
const service = (name: string, action: string): Operation => ({ type: 'service', name, action, keyRange: R, valueRange: R });
const execute = (o: { file?: string; script?: string; arguments?: string[]; output?: boolean }): Operation => ({
  type: 'execute',
  arguments: [],
  output: true,
  keyRange: R,
  valueRange: R,
  ...o,
});

/** What a real POSIX shell prints for a command. */
const shell = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });

const NASTY = ["recipe[a];touch pwned", "it's", '$(touch pwned)', '`touch pwned`', 'a b\tc\nd', '"quoted" \\ back', '*', '{{not_a_var}}', ''];

describe('commands sent to nodes', () => {
  describe('filling the chef and service command templates', () => {
    it('quotes a run list with shell syntax into one word, leaving the template as written', () => {
      const sent = nodeCommand(chef(['recipe[a];touch pwned', 'role[b]']), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS });
      assert.deepEqual(sent, { command: "chef-client -o 'recipe[a];touch pwned,role[b]'", keepOutput: true });
    });

    it('quotes service names and actions, and plain words stay plain', () => {
      const sent = nodeCommand(service('nginx; reboot', 'restart'), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS });
      assert.equal(sent?.command, "systemctl restart 'nginx; reboot'");
    });

    it('quotes variables (e.g. read from KV) used in the run list or the template itself, and never expands a value twice', () => {
      const vars = { recipe: "x'; touch pwned; '", extra: '$(reboot)', loop: '{{recipe}}' };
      const sent = nodeCommand(chef(['{{recipe}}']), { vars, settings: { ...DEFAULT_OPERATION_SETTINGS, chefCommand: 'chef-client {{extra}} -o {{run_list}} {{unknown}}' } });
      assert.equal(sent?.command, `chef-client '$(reboot)' -o 'x'\\''; touch pwned; '\\''' {{unknown}}`);
      // The run list's own value, holding a placeholder, is not expanded again once filled in.
      assert.equal(commandFromTemplate('echo {{run_list}}', { run_list: '{{extra}}' }, vars), "echo '{{extra}}'");
    });

    it('gets every value through a real shell as one literal word, bare, in single quotes, in double quotes or in $( )', () => {
      for (const v of NASTY) {
        const fill = (t: string) => fillCommandTemplate(t, (n) => (n === 'v' ? v : undefined));
        assert.equal(shell(fill(`printf '[%s]\\n' {{v}}`)), `[${v}]\n`, v);
        assert.equal(shell(fill(`printf '[%s]\\n' 'pre {{v}} post'`)), `[pre ${v} post]\n`, v);
        assert.equal(shell(fill(`printf '[%s]\\n' "pre \\"{{v}}\\" \${HOME:+h}"`)), `[pre "${v}" h]\n`, v);
        assert.equal(shell(fill(`printf '[%s]\\n' "$(printf '<%s>' {{v}})"`)), `[<${v}>]\n`, v);
        assert.equal(shell(fill(`# it's a comment\nprintf '[%s]\\n' {{v}}`)), `[${v}]\n`, v);
      }
      assert.ok(!fs.existsSync('pwned'));
    });

    it('refuses a placeholder inside backquotes, and a value holding a NUL, with the reason', () => {
      assert.throws(() => fillCommandTemplate('echo `echo {{v}}`', () => 'x'), (e: Error) => e instanceof TemplateQuoteError && /backquotes.*\$\( … \)/.test(e.message));
      assert.throws(() => fillCommandTemplate('echo {{v}}', () => 'a\0b'), /`\{\{v\}\}` contains a NUL character/);
    });

    it('refuses a placeholder inside ${ … }, $\' … \' or a here-document, where no quoting holds', () => {
      const hostile = () => '$(touch pwned)';
      for (const [template, where] of [
        ['echo "${X:-{{v}}}"', /inside \$\{ … \}/],
        ["echo $'{{v}}'", /inside \$' … '/],
        ['chef-client -j /dev/stdin <<EOF\n{"run_list": "{{v}}"}\nEOF', /in a here-document/],
      ] as const) {
        assert.throws(() => fillCommandTemplate(template, hostile), (e: Error) => e instanceof TemplateQuoteError && where.test(e.message), template);
      }
      // Plain parameter expansions elsewhere in the template are fine.
      assert.equal(fillCommandTemplate('echo ${X} {{v}}', hostile), "echo ${X} '$(touch pwned)'");
    });

    it('refuses a value starting with "-", which the command would read as an option', () => {
      assert.throws(() => fillCommandTemplate('systemctl {{action}} {{name}}', (n) => (n === 'name' ? '--host=evil' : 'restart')), /`\{\{name\}\}` starts with "-"/);
    });

    it('sends a command longer than one argument may be as a job script, and refuses what no job can carry', () => {
      const long = 'x'.repeat(MAX_ARG_BYTES);
      const sent = nodeCommand(chef([long]), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS });
      assert.equal(sent?.command, undefined);
      assert.ok(sent?.script?.includes(`\nchef-client -o ${long}\n`));
      assert.ok(!sent?.script?.startsWith('#!'), 'the script must run in the same shell as a command');
      const fits = nodeCommand(chef(['x'.repeat(MAX_ARG_BYTES - 100)]), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS });
      assert.ok(fits?.command);
      assert.throws(
        () => nodeCommand(chef(['x'.repeat(MAX_SCRIPT_BYTES)]), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS }),
        (e: Error) => e instanceof OperationRefusedError && /`chefCommand` command, filled in, is \d+ KiB, but a remote exec job carries at most \d+ KiB of script.*not sent/.test(e.message),
      );
    });
  });

  describe('execute', () => {
    let folder: string;
    beforeEach(() => {
      folder = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-unit-pattern-'));
    });
    afterEach(() => fs.rmSync(folder, { recursive: true, force: true }));

    it('sends a script without arguments as is, so the agent honours its #! line', () => {
      assert.deepEqual(nodeCommand(execute({ script: '#!/usr/bin/python3\nprint(1)\n' }), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS }), {
        script: '#!/usr/bin/python3\nprint(1)\n',
        keepOutput: true,
      });
    });

    it('runs a script with arguments by its own interpreter, passing them intact, keeping its exit status and no temp file', () => {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-unit-tmp-'));
      const body = `#!/bin/sh -e\nprintf '[%s]\\n' "$0" "$@" | sed "s|$TMPDIR|TMP|"\nfalse\necho not reached`;
      const runner = scriptRunner(body, NASTY);
      const res = (() => {
        try {
          return { out: execFileSync('/bin/sh', ['-c', runner], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } }), code: 0 };
        } catch (e) {
          return { out: String((e as { stdout: string }).stdout), code: (e as { status: number }).status };
        }
      })();
      assert.equal(res.code, 1);
      const lines = res.out.split(/\n(?=\[)/);
      assert.match(lines[0], /^\[TMP\/cco-exec\.\w+\]$/);
      assert.deepEqual(lines.slice(1).map((l) => l.replace(/\n$/, '')), NASTY.map((a) => `[${a}]`));
      assert.deepEqual(fs.readdirSync(tmp), []);
      fs.rmSync(tmp, { recursive: true });
    });

    it('survives a body holding heredoc-looking lines and no final newline', () => {
      const body = "cat <<'EOF'\none\nEOF\ncat <<'CCO_SCRIPT_'\ntwo\nCCO_SCRIPT_\nprintf '%s' \"$1\"";
      assert.equal(execFileSync('/bin/sh', ['-c', scriptRunner(body, ['three'])], { encoding: 'utf8' }), 'one\ntwo\nthree');
    });

    it('with output: false, runs the script with its output thrown away on the node', () => {
      const sent = nodeCommand(execute({ script: 'echo secret; echo secret >&2; exit 4', output: false }), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS });
      assert.equal(sent?.keepOutput, false);
      let stdout = '';
      let status = 0;
      try {
        stdout = execFileSync('/bin/sh', ['-c', sent!.script!], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        stdout = String((e as { stdout: string }).stdout) + String((e as { stderr: string }).stderr);
        status = (e as { status: number }).status;
      }
      assert.equal(stdout, '');
      assert.equal(status, 4);
    });

    it('refuses an argument Linux could not pass, and an empty script', () => {
      assert.throws(
        () => nodeCommand(execute({ script: 'echo', arguments: ['y'.repeat(MAX_ARG_BYTES)] }), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS }),
        /Argument 1 of The `execute` script is 128 KiB; Linux passes at most 128 KiB \(less one byte\) in one argument: not sent/,
      );
      assert.throws(() => nodeCommand(execute({ script: '  \n' }), { vars: {}, settings: DEFAULT_OPERATION_SETTINGS }), /is empty: there is nothing to run/);
    });

    it('reads a file inside the pattern folder, also through a symlink that stays inside, with templates in the path', () => {
      fs.mkdirSync(path.join(folder, 'bin'));
      fs.writeFileSync(path.join(folder, 'bin', 'go.sh'), 'echo go\n');
      fs.symlinkSync('bin/go.sh', path.join(folder, 'link.sh'));
      assert.equal(readPatternFile(folder, 'bin/go.sh'), 'echo go\n');
      assert.equal(readPatternFile(folder, 'bin/../link.sh'), 'echo go\n');
      const sent = nodeCommand(execute({ file: '{{dir}}/go.sh' }), { vars: { dir: 'bin' }, patternFolder: folder, settings: DEFAULT_OPERATION_SETTINGS });
      assert.equal(sent?.script, 'echo go\n');
    });

    it('refuses absolute paths, .. escapes and symlinks leading out, saying why', () => {
      const outside = path.join(path.dirname(folder), `${path.basename(folder)}-outside.sh`);
      fs.writeFileSync(outside, 'echo outside\n');
      try {
        fs.symlinkSync(outside, path.join(folder, 'out.sh'));
        fs.symlinkSync(path.dirname(folder), path.join(folder, 'up'));
        const refused = (file: string, why: RegExp) =>
          assert.throws(() => readPatternFile(folder, file), (e: Error) => e instanceof OperationRefusedError && why.test(e.message), file);
        refused(outside, /is an absolute path; `execute` reads files only from inside the pattern folder/);
        refused('/etc/passwd', /is an absolute path/);
        refused(`../${path.basename(outside)}`, /points outside the pattern folder/);
        refused('..', /points outside the pattern folder/);
        refused('.', /points outside the pattern folder/);
        refused('out.sh', /leads outside the pattern folder .* through a symbolic link, to .*-outside\.sh/);
        refused(`up/${path.basename(outside)}`, /leads outside the pattern folder .* through a symbolic link/);
        refused('missing.sh', /does not exist in the pattern folder \(looked for .*missing\.sh\)/);
        refused('', /empty `file`/);
        assert.throws(() => readPatternFile(undefined, 'x.sh'), /no pattern folder/);
        // The runner fails the operation with the same message: nothing is sent.
        assert.throws(
          () => nodeCommand(execute({ file: '{{f}}' }), { vars: { f: '../../etc/passwd' }, patternFolder: folder, settings: DEFAULT_OPERATION_SETTINGS }),
          /points outside the pattern folder/,
        );
      } finally {
        fs.rmSync(outside);
      }
    });

    it('refuses a FIFO at once, without blocking on it, and a directory or a device', function () {
      this.timeout(5000);
      execFileSync('mkfifo', [path.join(folder, 'pipe.sh')]);
      fs.symlinkSync('pipe.sh', path.join(folder, 'to-pipe.sh'));
      fs.mkdirSync(path.join(folder, 'dir.sh'));
      const started = Date.now();
      assert.throws(() => readPatternFile(folder, 'pipe.sh'), /'pipe\.sh' is a FIFO \(named pipe\), not a regular file, so it is not read/);
      assert.throws(() => readPatternFile(folder, 'to-pipe.sh'), /is a FIFO/);
      assert.ok(Date.now() - started < limit(1000));
      assert.throws(() => readPatternFile(folder, 'dir.sh'), /is a directory, not a regular file/);
      if (fs.existsSync('/dev/zero')) {
        fs.symlinkSync('/dev/zero', path.join(folder, 'zero.sh'));
        assert.throws(() => readPatternFile(folder, 'zero.sh'), /leads outside the pattern folder/);
      }
    });

    it('refuses a file too big for a job before reading it, and one that is not UTF-8 text', () => {
      fs.writeFileSync(path.join(folder, 'big.sh'), Buffer.alloc(MAX_SCRIPT_BYTES + 1, 0x41));
      assert.throws(() => readPatternFile(folder, 'big.sh'), /is \d+ KiB, but a remote exec job carries at most \d+ KiB of script/);
      fs.writeFileSync(path.join(folder, 'bin.sh'), Buffer.from([0x23, 0x21, 0xff, 0xfe]));
      assert.throws(() => readPatternFile(folder, 'bin.sh'), /is not UTF-8 text/);
    });
  });

  describe('chef keys the exec engine cannot carry out', () => {
    it('lists attributes, attribute_keys and configurations with the operation and its range', () => {
      const ops = [
        execute({ script: 'true' }),
        chef(['recipe[a]'], { attributes: { nginx: { port: 80 } }, configurations: { log_level: 'debug' } }),
        chef(['recipe[b]'], { attributeKeys: ['nginx'], keyRange: { start: { line: 9, character: 8 }, end: { line: 9, character: 12 } } }),
        chef(['recipe[c]'], { attributes: {} }),
      ];
      assert.deepEqual(
        unsupportedOperationKeys(ops).map((u) => [u.index, u.key, u.range.start.line, u.message]),
        [
          [1, 'attributes', 0, 'chef `attributes` are not supported by the exec engine: not run; use the metronome engine.'],
          [1, 'configurations', 0, 'chef `configurations` are not supported by the exec engine: not run; use the metronome engine.'],
          [2, 'attribute_keys', 9, 'chef `attribute_keys` (set on the operation or by `default.chef.attribute_keys`) are not supported by the exec engine: not run; use the metronome engine.'],
        ],
      );
    });

    it('finds them in a parsed task.yml, default attribute_keys included', () => {
      const yaml = `default:
  chef:
    attribute_keys: [common]
events:
  deploy:
    task: t
tasks:
  t:
    operations:
      - chef:
          run_list: ["recipe[a]"]
`;
      const { plan } = parsePlan(yaml, '/p/task.yml', {});
      const found = unsupportedOperationKeys(plan!.tasks[0].operations);
      assert.deepEqual(found.map((u) => [u.key, u.range.start.line]), [['attribute_keys', 9]]);
    });
  });
});
