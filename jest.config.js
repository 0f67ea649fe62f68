import { createDefaultEsmPreset } from 'ts-jest';

/** @type {import('jest').Config} */
export default {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/tests/support/setup-env.ts'],
  testTimeout: 60_000,
  // Longest first: package.json's test:jest runs two files at a time (--maxWorkers=2).
  testSequencer: '<rootDir>/tests/support/sequencer.mjs',
};
