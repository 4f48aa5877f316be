// Bundles the extension, and apart from it the run monitor's page (webview/ → dist/webview/), with esbuild.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// Libraries activation does not need (src/core/util/lazyLibs.ts requires them on
// first use): each is a bundle of its own in dist/vendor/, so activating parses none of them.
const require = createRequire(import.meta.url);
const VENDOR = { consul: 'consul', 'consul/lib/utils': 'consul-utils', 'js-yaml': 'js-yaml', 'smol-toml': 'smol-toml' };
const lazyVendor = {
  name: 'lazy-vendor',
  setup(build) {
    build.onResolve({ filter: /^(consul|consul\/lib\/utils|js-yaml|smol-toml)$/ }, (args) => ({ path: `./vendor/${VENDOR[args.path]}.js`, external: true }));
  },
};
const vendor = {
  entryPoints: Object.fromEntries(Object.entries(VENDOR).map(([pkg, name]) => [name, require.resolve(pkg)])),
  bundle: true,
  outdir: 'dist/vendor',
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: production,
  legalComments: 'linked',
  logLevel: 'info',
};

// `import * as vscode from 'vscode'` in each of ~60 modules would be ~60 copies of the whole
// API object (esbuild's CommonJS interop, __toESM, per importing module): ~15 ms of activation.
// Every import statement of vscode or a Node built-in goes through one module per name instead,
// which re-exports it once (a built-in's default export too); the importers share that module's
// namespace. require() calls stay plain requires.
const sharedExternals = {
  name: 'shared-externals',
  setup(build) {
    build.onResolve({ filter: /^(vscode|node:[a-z/_]+)$/ }, (args) =>
      args.namespace === 'shared-external' || args.kind !== 'import-statement' ? { path: args.path, external: true } : { path: args.path, namespace: 'shared-external' });
    build.onLoad({ filter: /.*/, namespace: 'shared-external' }, (args) => {
      const name = JSON.stringify(args.path);
      return { contents: `export * from ${name};${args.path === 'vscode' ? '' : ` export { default } from ${name};`}`, loader: 'js' };
    });
  },
};

// dist/extension.js is src/bootstrap.ts, a few lines that load the extension proper
// (src/extension.ts → dist/main.js) through V8's code cache.
const options = {
  entryPoints: { extension: 'src/bootstrap.ts', main: 'src/extension.ts' },
  bundle: true,
  outdir: 'dist',
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['vscode'],
  plugins: [lazyVendor, sharedExternals],
  // dist/main.js runs through vm.Script (the code cache), where a native import() has no loader:
  // esbuild turns any into a require.
  supported: { 'dynamic-import': false },
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
};

// The task.yml schema ships in dist/ for contributes.yamlValidation.
mkdirSync('dist', { recursive: true });
copyFileSync('src/core/plans/taskSchema.json', 'dist/taskSchema.json');
// The HCL parser (agent-config watch import) ships beside the bundle, loaded on first use only.
copyFileSync('node_modules/js-hcl-parser/dist/hcl.js', 'dist/hcl.js');

// The monitor page runs in a browser under a strict CSP: one script and one
// stylesheet (xterm's CSS included), nothing evaluated at run time.
const webview = {
  entryPoints: ['webview/monitor.ts', 'webview/monitor.css'],
  bundle: true,
  outdir: 'dist/webview',
  entryNames: '[name]',
  platform: 'browser',
  target: 'chrome120',
  format: 'iife',
  sourcemap: !production,
  minify: production,
  legalComments: 'linked',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file' },
  logLevel: 'info',
};

if (watch) {
  const contexts = await Promise.all([esbuild.context(options), esbuild.context(webview), esbuild.context(vendor)]);
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all([esbuild.build(options), esbuild.build(webview), esbuild.build(vendor)]);
}
