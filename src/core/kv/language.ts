/** Which editor language a KV value reads as: by the key's extension, else by its content. */

const BY_EXTENSION: Record<string, string> = {
  json: 'json',
  yml: 'yaml',
  yaml: 'yaml',
  hcl: 'hcl',
  tf: 'hcl',
  properties: 'properties',
  ini: 'ini',
  conf: 'properties',
  sh: 'shellscript',
  bash: 'shellscript',
  txt: 'plaintext',
  xml: 'xml',
  toml: 'toml',
};

export function detectLanguage(key: string, text: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  if (ext && BY_EXTENSION[ext]) return BY_EXTENSION[ext];
  const t = text.trim();
  if (!t) return 'plaintext';
  if (/^#!.*\b(sh|bash|zsh|dash|ksh)\b/.test(t)) return 'shellscript';
  if (/^[[{]/.test(t)) {
    try {
      JSON.parse(t);
      return 'json';
    } catch {
      // not JSON; HCL blocks also start with a word, not a brace
    }
  }
  const lines = t.split(/\r?\n/).filter((l) => l.trim() && !/^\s*(#|\/\/)/.test(l));
  if (!lines.length) return 'plaintext';
  // HCL: `name "label" {` blocks or `key = value` lines with braces somewhere.
  if (lines.some((l) => /^\s*[A-Za-z_][\w-]*(\s+"[^"]*")*\s*\{\s*$/.test(l)) && lines.some((l) => /^\s*}\s*$/.test(l))) return 'hcl';
  if (t === '---' || t.startsWith('---\n') || lines.every((l) => /^\s*(- |[\w.\-"']+\s*:(\s|$))/.test(l) || /^\s+\S/.test(l))) {
    if (lines.some((l) => /:\s|:$|^\s*- /.test(l))) return 'yaml';
  }
  if (lines.every((l) => /^\s*[\w.\-]+\s*[=:]/.test(l))) return 'properties';
  if (lines.some((l) => /^\s*(export\s+\w+=|if \[|for \w+ in|echo\s)/.test(l))) return 'shellscript';
  return 'plaintext';
}
