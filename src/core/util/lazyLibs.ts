/**
 * Third-party libraries that activation does not need, each loaded the first
 * time something uses it (the first connection, the first task.yml read, the
 * first knife/credentials file). In the bundle each one is a file of its own
 * beside dist/extension.js (scripts/build.mjs maps these require() calls to
 * dist/vendor/*.js), so activation neither parses nor runs them.
 *
 * No class of these libraries is shared between bundles: the extension never
 * checks `instanceof` against a class of theirs except through the accessor
 * (smolToml().TomlError), which hands back the one copy that threw.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type ConsulClient from 'consul';
import type * as JsYaml from 'js-yaml';
import type * as SmolToml from 'smol-toml';

/** The `consul` client's own request helpers; its public typings do not expose them. */
export interface ConsulUtils {
  options(req: object, opts: object): void;
  body: unknown;
  normalizeKeys<T>(o: T): T;
  defaults<T>(o: T, d: unknown): T;
}

function once<T>(load: () => T): () => T {
  let loaded: { value: T } | undefined;
  return () => (loaded ??= { value: load() }).value;
}

/** The `consul` client class. */
export const consulClient = once(() => require('consul') as typeof ConsulClient);
export const consulUtils = once(() => require('consul/lib/utils') as ConsulUtils);
export const jsYaml = once(() => require('js-yaml') as typeof JsYaml);
export const smolToml = once(() => require('smol-toml') as typeof SmolToml);
