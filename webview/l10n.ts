/** The page's strings, looked up in the extension's translations (sent with `init`). */
let bundle: Record<string, string> = {};

export function setBundle(b: Record<string, string> | undefined): void {
  bundle = b ?? {};
}

/** Like vscode.l10n.t: `{0}`… replaced by the arguments. */
export function t(message: string, ...args: Array<string | number>): string {
  return (bundle[message] ?? message).replace(/\{(\d+)\}/g, (m, i: string) => (args[Number(i)] !== undefined ? String(args[Number(i)]) : m));
}
