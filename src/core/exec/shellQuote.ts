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
