/**
 * POSIX quoting for the arguments appended to a remote command line. The
 * agent hands the whole line to `$SHELL -c` (or /bin/sh), so each argument
 * must arrive as exactly one word, with nothing expanded.
 */

/** Characters no POSIX shell treats specially anywhere in a word. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  // No process can receive a NUL inside an argument; quoting cannot help.
  if (arg.includes('\0')) throw new RangeError('A shell argument cannot contain a NUL character.');
  if (PLAIN_WORD.test(arg)) return arg;
  // Inside single quotes nothing is special except the quote itself, which
  // has to be closed, escaped, and reopened.
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(command: string, args: readonly string[] = []): string {
  return args.length ? `${command} ${args.map(shellQuote).join(' ')}` : command;
}

/** Linux's MAX_ARG_STRLEN: the most bytes one argument (here `sh -c`'s command) may have, its NUL included. */
export const MAX_ARG_BYTES = 128 * 1024;

/** Where a `{{placeholder}}` sits in a command template, as the shell will read it. */
type QuoteContext =
  | { kind: 'plain' }
  | { kind: 'single' }
  | { kind: 'double' }
  | { kind: 'subst'; depth: number }
  | { kind: 'backquote' }
  /** `${ … }`: quotes inside mean different things in different shells. */
  | { kind: 'param'; depth: number }
  /** `$' … '`: backslash escapes are read inside. */
  | { kind: 'ansi' }
  /** The body of a here-document: quotes mean nothing there. */
  | { kind: 'heredoc' };

export class TemplateQuoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateQuoteError';
  }
}

const PLACEHOLDER = /^{{([^{}]+)}}/;

/**
 * Fills the `{{name}}` placeholders of an operator's command template with
 * values, each arriving as exactly one literal word part, wherever it sits:
 * bare (`-o {{run_list}}`), inside single or double quotes (`"{{name}}"`: the
 * quotes are closed around the value and reopened), or inside `$( )`. The
 * template's own text is left as written. Placeholders `valueOf` does not know
 * stay as written. A placeholder inside backquotes is refused: backslashes
 * there are read twice, so no quoting is reliable.
 */
export function fillCommandTemplate(template: string, valueOf: (name: string) => string | undefined): string {
  const out: string[] = [];
  const stack: QuoteContext[] = [{ kind: 'plain' }];
  const top = () => stack[stack.length - 1];
  /** Where a `<<` was seen: its body starts at the next line. */
  let heredocAt: number | undefined;
  let i = 0;
  while (i < template.length) {
    const m = template[i] === '{' ? PLACEHOLDER.exec(template.slice(i)) : null;
    const value = m ? valueOf(m[1]) : undefined;
    if (m && value !== undefined) {
      const ctx = top();
      if (ctx.kind === 'backquote') {
        throw new TemplateQuoteError(`\`{{${m[1]}}}\` sits inside backquotes in the command template, where its value cannot be quoted safely; write $( … ) instead of \` … \`.`);
      }
      if (ctx.kind === 'param' || ctx.kind === 'ansi' || ctx.kind === 'heredoc') {
        const where = ctx.kind === 'param' ? 'inside ${ … }' : ctx.kind === 'ansi' ? "inside $' … '" : 'in a here-document';
        throw new TemplateQuoteError(`\`{{${m[1]}}}\` sits ${where} in the command template, where no quoting of its value is reliable; put it in a plain word, '…', "…" or $( … ).`);
      }
      // A value that starts with "-" would be read as an option by the command it is given to.
      if (value.startsWith('-')) throw new TemplateQuoteError(`The value of \`{{${m[1]}}}\` starts with "-" ("${value.slice(0, 40)}"), which the command would read as an option; refused.`);
      if (value.includes('\0')) throw new TemplateQuoteError(`The value of \`{{${m[1]}}}\` contains a NUL character, which no shell command can carry.`);
      const word = shellQuote(value);
      out.push(ctx.kind === 'single' ? `'${word}'` : ctx.kind === 'double' ? `"${word}"` : word);
      i += m[0].length;
      continue;
    }
    const c = template[i];
    const next = template[i + 1];
    const ctx = top();
    let take = 1;
    if (ctx.kind === 'heredoc') {
      // Conservative: everything after a here-document starts is its body.
    } else if (ctx.kind === 'single') {
      if (c === "'") stack.pop();
    } else if (ctx.kind === 'ansi') {
      if (c === '\\') take = 2;
      else if (c === "'") stack.pop();
    } else if (heredocAt !== undefined && c === '\n') {
      stack.push({ kind: 'heredoc' });
    } else if (c === '\\') {
      take = 2;
    } else if (c === '$' && next === '(') {
      stack.push({ kind: 'subst', depth: 0 });
      take = 2;
    } else if (c === '$' && next === '{') {
      stack.push({ kind: 'param', depth: 0 });
      take = 2;
    } else if (ctx.kind === 'param' && c === '{') {
      ctx.depth++;
    } else if (ctx.kind === 'param' && c === '}') {
      if (ctx.depth === 0) stack.pop();
      else ctx.depth--;
    } else if (c === '$' && next === "'" && ctx.kind !== 'double') {
      stack.push({ kind: 'ansi' });
      take = 2;
    } else if (c === '<' && next === '<' && template[i + 2] !== '<' && ctx.kind !== 'double') {
      heredocAt = i;
      take = 2;
    } else if (c === '`') {
      if (ctx.kind === 'backquote') stack.pop();
      else stack.push({ kind: 'backquote' });
    } else if (ctx.kind === 'double') {
      if (c === '"') stack.pop();
    } else if (c === '#' && (i === 0 || /[\s;&|()]/.test(template[i - 1]))) {
      // A comment runs to the end of the line; a quote in it opens nothing.
      const end = template.indexOf('\n', i);
      take = (end < 0 ? template.length : end) - i;
    } else if (c === "'") {
      stack.push({ kind: 'single' });
    } else if (c === '"') {
      stack.push({ kind: 'double' });
    } else if (ctx.kind === 'subst' && c === '(') {
      ctx.depth++;
    } else if (ctx.kind === 'subst' && c === ')') {
      if (ctx.depth === 0) stack.pop();
      else ctx.depth--;
    }
    out.push(template.slice(i, i + take));
    i += take;
  }
  return out.join('');
}
