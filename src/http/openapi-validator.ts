import { createRequire } from 'node:module';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import type { OpenApiDocument } from '../shared/spec.js';
import { securityHandlers, type CredentialScheme } from './authenticate.js';

const ready = new WeakMap<Express, Promise<void>>();

/**
 * express-openapi-validator matches each request by compiling every route's pattern with
 * path-to-regexp again until one matches (lookupRoute, about 6 % of the main thread on a refresh):
 * the compiled patterns are remembered instead. path-to-regexp is pure (same pattern and options,
 * same result) and its regexps carry no state (no `g` flag), so nothing else changes; the
 * routes are a fixed set, so the memo is bounded by the spec.
 */
function rememberCompiledRoutes(): void {
  const pathToRegexpModule = createRequire(createRequire(import.meta.url).resolve('express-openapi-validator'))('path-to-regexp') as {
    pathToRegexp: ((path: unknown, options?: object) => unknown) & { remembered?: true };
  };
  const compile = pathToRegexpModule.pathToRegexp;
  if (compile.remembered) return;
  const memo = new Map<string, unknown>();
  const remembered = Object.assign(
    (path: unknown, options: object = {}) => {
      if (typeof path !== 'string') return compile(path, options);
      // The validator passes { sensitive, strict } only: a cheap key for those, JSON for anything else.
      const { sensitive, strict, ...other } = options as { sensitive?: boolean; strict?: boolean };
      const key = `${sensitive ? 1 : 0}${strict ? 1 : 0}${Object.keys(other).length ? JSON.stringify(other) : ''} ${path}`;
      let compiled = memo.get(key);
      if (compiled === undefined) memo.set(key, (compiled = compile(path, options)));
      return compiled;
    },
    { remembered: true as const },
  );
  pathToRegexpModule.pathToRegexp = remembered;
}

/**
 * The spec with every internal `$ref` replaced by (a shared reference to) its target. The
 * validator's pre-processing compiles each component it meets through a `$ref`: given the
 * resolved document it has nothing to compile up front (0.5 s less at start); the schemas of
 * each operation are still compiled, once, on its first request.
 */
function resolveRefs(document: OpenApiDocument): OpenApiDocument {
  const resolved = new Map<string, unknown>();
  const target = (ref: string): unknown => {
    if (!resolved.has(ref)) {
      const node = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((at, key) => (at as Record<string, unknown>)[key.replace(/~1/g, '/').replace(/~0/g, '~')], document);
      resolved.set(ref, node); // set before walking, so a recursive schema points at itself
      resolved.set(ref, walk(node));
    }
    return resolved.get(ref);
  };
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string' && ref.startsWith('#/')) return target(ref);
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
  };
  return walk(document) as OpenApiDocument;
}

/**
 * Every request (and, outside production, every response) checked against the contract.
 * express-openapi-validator loads and pre-processes the spec on its first request (about half a
 * second of CPU that would block the event loop under the first client's traffic); here that
 * starts at once, and `openApiValidatorReady(app)` lets start-up wait for it.
 */
export function openApiValidator(
  c: { credentialSchemes: CredentialScheme[]; logger: Logger; validateResponses: boolean },
  spec: OpenApiDocument,
  app: Express,
): RequestHandler[] {
  rememberCompiledRoutes();
  const handlers = OpenApiValidator.middleware({
    apiSpec: resolveRefs(spec) as never,
    // The contract is linted against the OpenAPI schema by `npm test` (redocly); checking it
    // again at every start cost a quarter of a second.
    validateApiSpec: false,
    // Every schema error is reported (problem.ts keeps the first maxFieldErrors); bodies are
    // bounded by BODY_LIMIT and the schemas' maxItems/maxLength.
    validateRequests: { allowUnknownQueryParameters: false, allErrors: true },
    validateResponses: c.validateResponses,
    validateFormats: true,
    validateSecurity: { handlers: securityHandlers(c.credentialSchemes, c.logger) },
  });
  // The first handler waits for the loaded spec, then registers the path parameters on `req.app`:
  // what the first request would do.
  const [loadSpec] = handlers as Array<(req: Request, res: Response, next: NextFunction) => void>;
  ready.set(app, new Promise<void>((resolve, reject) => loadSpec!({ app } as unknown as Request, {} as Response, (err?: unknown) => (err ? reject(err) : resolve()))));
  return handlers;
}

/** Resolves once the validator of `app` has loaded the spec (immediately for other apps). */
export function openApiValidatorReady(app: Express): Promise<void> {
  return ready.get(app) ?? Promise.resolve();
}
