/**
 * Text for VS Code toasts (notifications, error messages). Toasts render
 * `[text](target)` as links — `command:` ones included — so untrusted text
 * (a server's error, a node's name, a report) must not make one.
 */

/** Breaks every `](` so no markdown link forms; one line. */
export function plainToastText(text: string): string {
  return text.replace(/\]\(/g, '] (').replace(/\s+/g, ' ').trim();
}

/** Longest error toast: longer texts belong in the log. */
export const MAX_TOAST_CHARS = 600;

/** An error message made safe for a toast: no links, one line, at most MAX_TOAST_CHARS. */
export function errorToastText(message: string): string {
  const plain = plainToastText(message);
  return plain.length > MAX_TOAST_CHARS ? `${plain.slice(0, MAX_TOAST_CHARS - 1)}…` : plain;
}
