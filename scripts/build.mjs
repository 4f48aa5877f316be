// Bundles the extension, and apart from it the run monitor's page (webview/ → dist/webview/), with esbuild.
import { copyFileSync, mkdirSync } from 'node:fs';
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const options = {
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'dist/extension.js',
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['vscode'],
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
  const contexts = await Promise.all([esbuild.context(options), esbuild.context(webview)]);
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all([esbuild.build(options), esbuild.build(webview)]);
}
