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
import process from 'node:process';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: {
    projectType: 'custom',
    configFile: 'jest.mutation.config.js',
    // Each mutant loads only the test files that import its file (ESM test files cost about a
    // second each to load): 8 s per mutant became under one. A run scoped with MUTATE_TESTS has
    // named its files already, and the import graph search would only add its own cost, unless
    // MUTATE_RELATED=1 asks for it (a run over several files, each tested by a few of the named).
    enableFindRelatedTests:
      process.env.MUTATE_TESTS === undefined || process.env.MUTATE_RELATED === '1',
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
  // Jest's ESM module registry is not freed between runs in one process: a runner's heap grew
  // past 1.4 GB in four minutes and its runs slowed with it. A fresh runner every 25 mutants
  // costs about 4 s.
  maxTestRunnerReuse: 25,
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ['json', 'html', 'clear-text', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
