import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.js';
import { ConfigError } from './config/config.js';
import { KeyDecryptionError } from './infra/keys.js';
import { createContainer, type Container, type Infrastructure } from './container.js';

export interface RunningServer {
  url: string;
  server: Server;
  container: Container;
  /** Stops accepting connections and waits for in-flight requests (up to the timeout). */
  close(): Promise<void>;
}

/** Starts the HTTP server on the configured host and port (port 0 picks a free one). */
export async function startServer(infra: Infrastructure, listen: { host: string; port: number }): Promise<RunningServer> {
  const container = createContainer(infra);
  // Compute the decoy hash now, so the first unknown-email login costs no more than any other.
  const decoyReady = container.hasher.verifyDecoy('');
  await container.keys.ensureActiveKey();
  try {
    await container.keys.signingKey(); // fails now, not at the first login, on a wrong secret
  } catch (err) {
    if (err instanceof KeyDecryptionError) throw new ConfigError(`Invalid configuration:\n  KEY_ENCRYPTION_KEY: ${err.message}`);
    throw err;
  }
  await decoyReady;
  const defaultType = await container.db('actor_types').where({ name: infra.config.DEFAULT_ACTOR_TYPE }).first('self_signup');
  if (!defaultType?.self_signup) {
    throw new ConfigError(`Invalid configuration:\n  DEFAULT_ACTOR_TYPE: '${infra.config.DEFAULT_ACTOR_TYPE}' is not a self-signup actor type`);
  }
  const app = buildApp(container);
  const server = app.listen(listen.port, listen.host);
  await once(server, 'listening');
  container.apiKeyUsage.start();
  server.keepAliveTimeout = 5000;
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return {
    url: `http://${host}:${port}`,
    server,
    container,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), infra.config.SHUTDOWN_TIMEOUT_MS);
        // Keep-alive connections become idle once their in-flight response is sent: close them then.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearTimeout(force);
          clearInterval(idle);
          // Last-used times still in memory are written before the pools close.
          void container.apiKeyUsage.stop().then(resolve, resolve);
        });
        server.closeIdleConnections();
      }),
  };
}
