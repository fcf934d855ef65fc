export { findUndocumented } from './completeness.js';
export {
  collectExamples,
  contractOperations,
  freezeWallClock,
  EXAMPLE_VARIABLES,
  FETCH_ROUNDS,
  WALL_CLOCK_FIELDS,
  WALL_CLOCK_PLACEHOLDER,
  type CollectOptions,
  type OperationExample,
} from './examples.js';
export { generateDocs, MARKDOWN_PATH, type GenerateOptions, type GeneratedDocs } from './generate.js';
export { GENERATED_NOTICE, renderMarkdown } from './markdown.js';
export { apiSchema, apiSdl, documentedTypes, SUBGRAPH_SDL_FILES } from './schema.js';
export { buildSite, exampleMetadata, externalAssets, THEME_DIR } from './site.js';
