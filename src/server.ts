import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Express } from 'express';
import { buildApp } from './app.js';
import { ConfigError, withListenAddress } from './config/config.js';
import { openApiValidatorReady } from './http/openapi-validator.js';
import { KeyDecryptionError } from './infra/keys.js';
import { createContainer, type Container, type Infrastructure } from './container.js';
import { AppError } from './shared/errors.js';
import { problemBody } from './shared/problem.js';

export interface RunningServer {
  url: string;
  server: Server;
  container: Container;
  /** Stops accepting connections and waits for in-flight requests (up to the timeout). */
  close(): Promise<void>;
}

/**
 * Starts the HTTP server on the configured host and port (port 0 picks a free one). It listens
 * first, so that the port is known before the token issuer is settled (PUBLIC_URL unset), and
 * requests that arrive while the app is being built wait for it.
 */
export async function startServer(infra: Infrastructure, listen: { host: string; port: number }): Promise<RunningServer> {
  let app: Express | undefined;
  let appBuilt!: (app: Express) => void;
  const built = new Promise<Express>((resolve) => (appBuilt = resolve));
  const server = createServer((req, res) => (app ? app(req, res) : void built.then((a) => a(req, res))));
  server.keepAliveTimeout = 5000;
  server.on('clientError', answerMalformedRequest);
  server.listen(listen.port, listen.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(`Invalid configuration:\n  PORT: port ${listen.port} on ${listen.host} is already in use (is Sésame already running?); choose another PORT`);
    }
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  let container: Container;
  try {
    container = createContainer({ ...infra, config: withListenAddress(infra.config, listen.host, port) });
    app = await prepareApp(container);
  } catch (err) {
    server.close();
    server.closeAllConnections();
    throw err;
  }
  appBuilt(app);
  container.apiKeyUsage.start();
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

/** Checks what start-up can check (keys, the default actor type), then builds the app. */
async function prepareApp(container: Container): Promise<Express> {
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
  const defaultType = await container.db('actor_types').where({ name: container.config.DEFAULT_ACTOR_TYPE }).first('self_signup');
  if (!defaultType?.self_signup) {
    throw new ConfigError(`Invalid configuration:\n  DEFAULT_ACTOR_TYPE: '${container.config.DEFAULT_ACTOR_TYPE}' is not a self-signup actor type`);
  }
  const app = buildApp(container);
  await openApiValidatorReady(app);
  return app;
}

/** What Node's HTTP parser refused, in words (the parser's error codes). */
const malformedDetails: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'The request headers are too large.',
  HPE_INVALID_METHOD: 'The request method is not a known HTTP method.',
  HPE_INVALID_HEADER_TOKEN: 'A request header contains a character HTTP does not allow.',
  HPE_INVALID_VERSION: 'The HTTP version is not valid.',
  ERR_HTTP_REQUEST_TIMEOUT: 'The request was not received in time.',
};

/**
 * Requests Node's parser refuses never reach Express: answer them with problem+json like every
 * other input error (Node's default is a bare 400/431). Written to the socket directly, as the
 * parser gives no response object; only when nothing was written on the connection yet (as Node
 * does), since a response may be half sent on a keep-alive connection.
 */
function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const error = new AppError('validation_failed', { detail: malformedDetails[err.code ?? ''] ?? 'The request is not valid HTTP/1.1.' });
  const body = JSON.stringify(problemBody(error, undefined, randomUUID()));
  socket.end(
    `HTTP/1.1 ${error.status} Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}
