// Deploy-time plugin (plugins/plugin.ts): the stage's names checked against AWS's limits before
// any command does work, the `${iotEndpoint:<type>}` variable source, the checked
// `${delivery:<setting>}` stage parameters, and serverless-esbuild's zip staging folders removed
// after packaging (plugins/zip-staging.ts). The framework loads
// plugins with require(), so this CommonJS file imports the TypeScript through tsx, scoped to
// that import (no loader registered for the rest of the process).
const { pathToFileURL } = require('node:url');
const path = require('node:path');

class DeployTimePlugin {
  constructor(serverless, _options, utils) {
    let implementation;
    const load = async () => {
      if (!implementation) {
        const { tsImport } = await import('tsx/esm/api');
        implementation = await tsImport(pathToFileURL(path.join(__dirname, 'plugin.ts')).href, {
          parentURL: pathToFileURL(__filename).href,
        });
      }
      return implementation;
    };
    // The user's mistake, not ours: a ServerlessError prints as a message, without a stack trace.
    const asUserError = async (action) => {
      try {
        return await action(await load());
      } catch (error) {
        throw new serverless.classes.Error(error instanceof Error ? error.message : String(error));
      }
    };
    this.configurationVariablesSources = {
      iotEndpoint: {
        resolve: ({ address }) =>
          asUserError(async (plugin) => ({
            value: await plugin.resolveIotEndpoint(serverless, address, utils.log),
          })),
      },
      // The stage's delivery parameters, checked (plugins/delivery.ts): serverless.yml custom.delivery.
      delivery: {
        resolve: ({ address, resolveVariable }) =>
          asUserError(async (plugin) => ({
            value: await plugin.resolveDelivery(address, resolveVariable),
          })),
      },
    };
    // After serverless-esbuild zipped (in the `before:` hooks of these events). A folder that
    // cannot be removed is worth a warning, never a failed deployment.
    const removeZipStaging = async () => {
      try {
        const plugin = await load();
        await plugin.removeZipStagingFolders({
          zipNames: [...serverless.service.getAllFunctions(), serverless.service.service],
        });
      } catch (error) {
        utils.log.warning(`Could not remove serverless-esbuild's zip staging folders: ${error}`);
      }
    };
    this.hooks = {
      initialize: () => asUserError((plugin) => plugin.assertStageNamesAccepted(serverless)),
      'after:package:createDeploymentArtifacts': removeZipStaging,
      'after:deploy:function:packageFunction': removeZipStaging,
    };
  }
}

module.exports = DeployTimePlugin;
