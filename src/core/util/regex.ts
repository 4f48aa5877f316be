/** Escapes text for use inside a regular expression (Consul's filters are Go regexps; these characters agree). */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
