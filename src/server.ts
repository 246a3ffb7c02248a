import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.js';
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
  await container.keys.ensureActiveKey();
  const app = buildApp(container);
  const server = app.listen(listen.port, listen.host);
  await once(server, 'listening');
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
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
