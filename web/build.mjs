// Builds Slotline's browser code into the Go tree, where go:embed picks it
// up: the widget (internal/webassets/dist/slotline.js, an ES module) and
// the page enhancement (dist/book.js), minified, without source maps or
// timestamps, so that the same sources always give the same bytes. It also
// copies axe-core for the browser tests. Run with `npm run build`.

import * as esbuild from 'esbuild';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = join(root, 'internal', 'webassets', 'dist');
const axeOut = join(root, 'internal', 'browsertest', 'testdata', 'axe.min.js');
const LIMIT = 30 * 1024;

// The message catalogs belong to the pages too: the bundle takes only
// their widget.* keys. The stylesheet becomes a minified string.
const inputs = {
  name: 'slotline-inputs',
  setup(build) {
    build.onLoad({ filter: /[\\/]internal[\\/]web[\\/]i18n[\\/][a-z]+\.json$/ }, async (args) => {
      const all = JSON.parse(await readFile(args.path, 'utf8'));
      const widget = {};
      for (const k of Object.keys(all).sort()) if (k.startsWith('widget.')) widget[k] = all[k];
      return { contents: JSON.stringify(widget), loader: 'json' };
    });
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      const out = await esbuild.transform(await readFile(args.path, 'utf8'), { loader: 'css', minify: true });
      return { contents: out.code.trim(), loader: 'text' };
    });
  },
};

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  charset: 'utf8',
  target: ['es2022'],
  platform: 'browser',
  logLevel: 'warning',
  absWorkingDir: here,
  plugins: [inputs],
};

await mkdir(dist, { recursive: true });
await esbuild.build({ ...common, entryPoints: ['src/widget.js'], outfile: join(dist, 'slotline.js'), format: 'esm' });
await esbuild.build({ ...common, entryPoints: ['src/book.js'], outfile: join(dist, 'book.js'), format: 'iife' });
// The console's page scripts: each web/src/console/*.js (not its lib/) is
// one script, dist/console/<name>.js.
const consoleDir = join(here, 'src', 'console');
await mkdir(join(dist, 'console'), { recursive: true });
for (const name of (await readdir(consoleDir)).filter((n) => n.endsWith('.js')).sort()) {
  await esbuild.build({ ...common, entryPoints: [join('src', 'console', name)], outfile: join(dist, 'console', name), format: 'iife' });
}
await mkdir(dirname(axeOut), { recursive: true });
await copyFile(join(here, 'node_modules', 'axe-core', 'axe.min.js'), axeOut);

let tooBig = false;
for (const name of ['slotline.js', 'book.js']) {
  const body = await readFile(join(dist, name));
  const gz = gzipSync(body, { level: 9 }).length;
  console.log(`${name}: ${body.length} bytes, ${gz} bytes gzipped`);
  if (name === 'slotline.js' && gz > LIMIT) tooBig = true;
}
if (tooBig) {
  console.error(`slotline.js is over ${LIMIT} bytes gzipped`);
  process.exit(1);
}
