/**
 * NestJS 12 is ESM-only, so jest runs in native ESM mode (node --experimental-vm-modules) with @swc/jest
 * compiling TypeScript (legacy decorators + metadata) to ES modules. Three projects: unit specs next to the
 * code; integration specs (test/integration) of the ledger and the services over it in a Nest testing module
 * against a real database, no HTTP; e2e specs in test/ against the real app and a real database.
 */
const swcEsm = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];
// A few ESM-only packages are require()d by CommonJS ones (@fastify/static, light-my-request).
const swcCjs = ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }];
const esmOnlyDeps = ['content-disposition', 'cookie'];

const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.ts$': swcEsm,
    [`/node_modules/(${esmOnlyDeps.join('|')})/.+\\.js$`]: swcCjs,
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnlyDeps.join('|')})/)`],
  testEnvironmentOptions: { globalsCleanup: 'off' },
  // The examples import the client package by its name; in this repository that is its source.
  moduleNameMapper: { '^@credit-metering/nest-client/client$': '<rootDir>/libs/nest-client/src/client.ts' },
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/seeds/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'],
      // The same databases as e2e: on PostgreSQL each suite clones the template global setup migrates.
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
      slowTestThreshold: 30,
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/contract-setup.ts'],
      slowTestThreshold: 30,
    },
  ],
  testTimeout: 60_000,
  maxWorkers: 2,
  // fetch's keep-alive pool (webhook tests) can outlive a suite by a few seconds; never let CI hang on it.
  forceExit: true,
};
