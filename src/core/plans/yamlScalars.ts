export type ScalarValue = string | number | boolean | null;

/**
 * Plain scalars as metronome's YAML library (go-yaml v2, YAML 1.1) reads them:
 * `yes`/`no`/`on`/`off` are booleans and `0755` is octal.
 */
export function resolvePlain(s: string): ScalarValue {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (/^(?:y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON)$/.test(s)) return true;
  if (/^(?:n|N|no|No|NO|false|False|FALSE|off|Off|OFF)$/.test(s)) return false;
  const t = s.replace(/_/g, '');
  if (/^[-+]?(?:0|[1-9][0-9]*)$/.test(t)) return Number(t);
  if (/^[-+]?0x[0-9a-fA-F]+$/.test(t)) return signed(t, (u) => parseInt(u.slice(2), 16));
  if (/^[-+]?0b[01]+$/.test(t)) return signed(t, (u) => parseInt(u.slice(2), 2));
  if (/^[-+]?0[0-7]+$/.test(t)) return signed(t, (u) => parseInt(u, 8));
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(t)) return Number(t);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(s)) return NaN;
  return s;
}

function signed(t: string, parse: (unsigned: string) => number): number {
  const negative = t.startsWith('-');
  const n = parse(t.replace(/^[-+]/, ''));
  return negative ? -n : n;
}

export function resolveTagged(tag: string, s: string): ScalarValue {
  const name = tag.replace(/^!!/, '').replace(/^tag:yaml\.org,2002:/, '');
  if (name === 'null') return null;
  if (name === 'bool' || name === 'int' || name === 'float') {
    const v = resolvePlain(s);
    return v === null ? s : v;
  }
  return s;
}
