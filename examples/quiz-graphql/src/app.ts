import { createSesameVerifier, requirePermission, sesameAuth, type SesameVerifierOptions } from '@sesame/server-kit';
import { useSesame } from '@sesame/server-kit/graphql-yoga';
import express, { type Express } from 'express';
import { createYoga } from 'graphql-yoga';
import { quizzes, schema } from './schema.js';

export interface QuizServiceOptions {
  /** Where Sésame is and what its tokens must say (see @sesame/server-kit). */
  sesame: SesameVerifierOptions;
  /** Production: no introspection, no GraphiQL. */
  production: boolean;
}

/**
 * The quiz service: a GraphQL endpoint (`/graphql`) that needs a Sésame session for every
 * request, and one REST route showing the Express middleware with a permission guard.
 */
export function createQuizApp(options: QuizServiceOptions): Express {
  const verifier = createSesameVerifier(options.sesame);
  const yoga = createYoga({
    schema,
    plugins: [useSesame(verifier, { production: options.production })],
    graphiql: !options.production,
    landingPage: false,
  });

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/api/premium-quizzes', sesameAuth(verifier), requirePermission('quiz:play:premium'), (req, res) => {
    res.json({ items: quizzes.filter((q) => q.premium), served_to: req.sesame!.user.id });
  });
  app.use(yoga.graphqlEndpoint, yoga);
  return app;
}
