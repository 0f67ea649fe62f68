// esbuild plugins for serverless-esbuild (loaded with require, hence CommonJS).
const { mkdir, writeFile } = require('node:fs/promises');
const path = require('node:path');

/**
 * The bundles are ES modules in `.js` files. Lambda (and Node) read `.js` as ES modules only when
 * the nearest package.json says "type": "module", so one is written beside every bundle and
 * ends up in each function's zip.
 */
const esmPackageJson = {
  name: 'esm-package-json',
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length > 0) return;
      const { outdir } = build.initialOptions;
      await mkdir(outdir, { recursive: true });
      await writeFile(path.join(outdir, 'package.json'), '{"type":"module"}\n');
    });
  },
};

module.exports = [esmPackageJson];
