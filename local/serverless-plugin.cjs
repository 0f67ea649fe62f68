// Entry point of the offline cloud plugin. The Serverless Framework loads plugins with require(),
// so this small CommonJS file registers tsx and hands over to the TypeScript implementation.
// The implementation is loaded only when an offline command runs: `sls package` and
// `sls deploy` never load it.
const path = require('node:path');
const { pathToFileURL } = require('node:url');

class OfflineCloudPlugin {
  constructor(serverless, options, utils) {
    this.hooks = {};
    let implementation;
    const load = async () => {
      if (!implementation) {
        const { register } = await import('tsx/esm/api');
        register();
        const url = pathToFileURL(path.join(__dirname, 'plugin.ts')).href;
        const { OfflineCloud } = await import(url);
        implementation = new OfflineCloud(serverless, options, utils);
      }
      return implementation;
    };
    // Errors of the offline cloud are the user's to act on (a taken port, an unsupported rule):
    // the framework prints a ServerlessError as a message, without a stack trace.
    const delegate = (hook) => async () => {
      try {
        return await (await load())[hook]();
      } catch (error) {
        throw new serverless.classes.Error(error instanceof Error ? error.message : String(error));
      }
    };
    const command = (serverless.processedInput?.commands ?? []).join(' ');
    this.hooks = {
      'before:offline:start:init': delegate('start'),
      'before:offline:start:ready': delegate('announce'),
      'before:offline:start:end': delegate('stop'),
    };
    // A stack on free ports whose sources were built before (local/stack/build-cache.ts): its
    // functions run from that build, and serverless-esbuild builds none (its `skipEsbuild`).
    const prebuilt = process.env.OFFLINE_PREBUILT_BUILD;
    if (command === 'offline start' && prebuilt) {
      this.hooks.initialize = () => {
        for (const fn of Object.values(serverless.service.functions ?? {})) fn.skipEsbuild = true;
        const custom = (serverless.service.custom ??= {});
        (custom['serverless-offline'] ??= {}).location = prebuilt;
      };
    }
    if (command === 'invoke local') {
      // The framework resolves the environment before any plugin's loadEnvVars hook, so the
      // local endpoints go in at initialize. A separate build folder keeps serverless-esbuild's
      // clean-up after the invoke away from the bundles a running `npm start` uses.
      const esbuild = (serverless.service.custom ??= {}).esbuild ?? {};
      esbuild.outputWorkFolder = '.esbuild-invoke';
      this.hooks.initialize = delegate('useRunningCloud');
    }
  }
}

module.exports = OfflineCloudPlugin;
