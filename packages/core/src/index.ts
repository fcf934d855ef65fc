export { loadConfig, parseConfig, env, type ParsedConfig } from './config.js';
export { createLogger, redactUrls, type Logger } from './logger.js';
