import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { refusalHeaders, SesameAuthError } from './errors.js';
import { hasPermission } from './permissions.js';
import type { SesameAuth, SesameVerifier } from './verifier.js';

/** What the plugin adds to every resolver's context. */
export interface SesameGraphQLContext {
  sesame: SesameAuth;
}

export interface SesamePluginOptions {
  /** Production turns schema introspection off (default: NODE_ENV === 'production'). */
  production?: boolean;
}

/**
 * graphql-yoga plugin: every request needs a valid Sésame session. A request without one is
 * answered 401 before its query is parsed (so an anonymous caller learns nothing about the
 * schema, not even from validation errors), as a GraphQL error whose `extensions.code` is the
 * reason (`authentication_required`, `invalid_token`, `token_expired`, `session_revoked`; 503
 * `service_unavailable` when Sésame cannot be reached). The caller is `context.sesame`;
 * introspection is refused in production.
 */
export function useSesame(verifier: SesameVerifier, options: SesamePluginOptions = {}): Plugin<SesameGraphQLContext> {
  const production = options.production ?? process.env.NODE_ENV === 'production';
  const callers = new WeakMap<Request, SesameAuth>();
  return {
    async onRequestParse({ request, endResponse, fetchAPI }) {
      try {
        callers.set(request, await verifier.authenticate(request.headers.get('authorization')));
      } catch (err) {
        if (!(err instanceof SesameAuthError)) throw err;
        const body = JSON.stringify({ errors: [{ message: err.detail, extensions: { code: err.code } }] });
        endResponse(new fetchAPI.Response(body, { status: err.status, headers: { ...refusalHeaders(err, 'graphql'), 'Content-Type': 'application/json; charset=utf-8' } }));
      }
    },
    onContextBuilding({ context, extendContext }) {
      const caller = callers.get(context.request);
      // Unreachable through HTTP (onRequestParse refused it); a direct execute() without a request is refused too.
      if (!caller) throw new GraphQLError('A valid Sésame session is required.', { extensions: { code: 'authentication_required', http: { status: 401 } } });
      extendContext({ sesame: caller });
    },
    onValidate({ addValidationRule }) {
      if (production) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** In a resolver: throws a `permission_denied` GraphQL error unless the caller's token grants `permission`. */
export function assertPermission(context: SesameGraphQLContext, permission: string): void {
  if (!hasPermission(context.sesame, permission)) {
    throw new GraphQLError(`This requires the permission ${permission}.`, { extensions: { code: 'permission_denied' } });
  }
}
