import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { createLogger, flushLogs } from './shared/logger.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * One serving process (WORKERS=1, or each worker), or with WORKERS > 1 the supervisor of the
 * workers (src/cluster). Imported late, so the supervisor never loads the HTTP stack.
 */
const config = readConfig();
const logger = createLogger(config.LOG_LEVEL);
process.on('uncaughtException', (err) => {
  logger.fatal({ err }, 'uncaught exception: exiting');
  void flushLogs(logger).finally(() => process.exit(1));
});
try {
  if (cluster.isPrimary && config.WORKERS > 1) await (await import('./cluster/supervisor.js')).supervise(config, logger);
  else await (await import('./cluster/serve.js')).serve(config, logger);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  logger.fatal({ err }, 'Sésame failed to start');
  await flushLogs(logger);
  process.exit(1);
}
