import { readdirSync } from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

// The layers are read from the folder tree, so a new library, subgraph, job or tool is covered the day its folder appears.
const workspaceFolders = (parent) =>
  readdirSync(path.join(root, parent), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `${parent}/${entry.name}`);

const services = [...workspaceFolders('subgraphs'), 'gateway', ...workspaceFolders('jobs')];
const testCode = ['test', 'bench'];

const layerMessages = {
  libraryImportsService: 'Libraries (packages/) never import services: move the shared code into a library.',
  libraryImportsTool: 'Libraries (packages/) never import tools (tools/): tools sit above libraries and services.',
  serviceImportsService: 'Services never import each other: share code through a library in packages/.',
  serviceImportsTool: 'Services never import tools (tools/): tools sit above libraries and services.',
  importsTestCode: 'Libraries, services and tools never import tests or benchmarks (test/, bench/).',
};

const importDirection = [
  { target: 'packages', from: services, message: layerMessages.libraryImportsService },
  { target: 'packages', from: 'tools', message: layerMessages.libraryImportsTool },
  ...services.map((service) => ({
    target: service,
    from: services.filter((other) => other !== service),
    message: layerMessages.serviceImportsService,
  })),
  { target: services, from: 'tools', message: layerMessages.serviceImportsTool },
  { target: ['packages', 'tools', ...services], from: testCode, message: layerMessages.importsTestCode },
];

// Sources import `./x.js` for `./x.ts` (NodeNext); workspace packages resolve through their node_modules symlink to the real folder.
const resolver = createNodeResolver({
  extensions: ['.ts', '.js', '.json'],
  extensionAlias: { '.js': ['.ts', '.js'] },
  conditionNames: ['import', 'node', 'default'],
});

// Where devDependencies may be imported (absolute, so that eslint run from a subfolder reads them the same).
const devOnlyCode = [
  'tools/**',
  'test/**',
  '**/test/**',
  'bench/**',
  '.github/scripts/**',
  '*.{ts,js}',
  // Local runs only: the images never reach this dynamic import (DATABASE_URL is required there; test/pipeline/images.test.ts holds it).
  'packages/db/src/embedded.ts',
].map((glob) => path.join(root, glob));

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/__generated__/**', '.data/**', 'docs/site/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [resolver] },
    rules: {
      // Each workspace declares what it imports: npm hoisting hides a missing declaration until the workspace is installed alone, as
      // in the images. Runtime code takes only `dependencies`; tests, tools and root files may take `devDependencies` too.
      'import-x/no-extraneous-dependencies': ['error', { includeInternal: true, includeTypes: true, devDependencies: devOnlyCode }],
    },
  },
  {
    // Libraries < services < tools; tests and benchmarks (test/, bench/, <workspace>/test/) stand outside and may import anything.
    files: ['packages/**', 'tools/**', 'subgraphs/**', 'gateway/**', 'jobs/**'],
    ignores: ['**/test/**', '**/*.test.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: root, zones: importDirection }],
      // no-restricted-paths skips an import it cannot resolve, so an unresolved import would slip past the layers unchecked.
      'import-x/no-unresolved': 'error',
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
