/**
 * Mutation testing (`npm run mutate`; not part of `npm test`: it takes most of an hour on two
 * cores). StrykerJS changes the Lambda code (shared/, handlers/) and the offline IoT Core's
 * policy and rules engines one operator at a time and runs the fast tests that cover each
 * change (jest.mutation.config.js); a mutant the tests do not notice survives. Reports:
 * reports/mutation/mutation.json and mutation.html.
 *
 * Jest runs ESM here (`node --experimental-vm-modules`, ts-jest's ESM preset), so the runner's
 * workers get the same flag. tsconfig's isolatedModules makes ts-jest transpile without type
 * checks, which a mutant would often fail on purpose.
 */

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: {
    projectType: 'custom',
    configFile: 'jest.mutation.config.js',
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  mutate: [
    'shared/**/*.ts',
    'handlers/**/*.ts',
    'local/iot/policy/**/*.ts',
    'local/iot/rules/**/*.ts',
    '!**/*.d.ts',
  ],
  // Generated state and build output stay out of the sandbox.
  ignorePatterns: [
    '.local-cloud',
    '.serverless',
    '.serverless-offline',
    '.esbuild*',
    'bench/results',
    'coverage',
    'test-results',
    'dist',
    'certs',
    '.stryker-tmp*',
    'reports',
  ],
  // A mutant of a module-level value ("static") can only be tested by reloading every test
  // file; with ESM Jest that is most of the run's time for a small share of the mutants. They
  // are reported as ignored instead.
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ['json', 'html', 'clear-text', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
