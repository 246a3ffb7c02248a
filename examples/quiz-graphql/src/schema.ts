import { assertPermission, type SesameGraphQLContext } from '@sesame/server-kit/graphql-yoga';
import { createSchema } from 'graphql-yoga';

export interface Quiz {
  id: string;
  title: string;
  premium: boolean;
  questions: Array<{ id: string; text: string; choices: string[] }>;
}

/** The product's own data: Sésame knows nothing about quizzes. */
export const quizzes: Quiz[] = [
  {
    id: 'capitals',
    title: 'European capitals',
    premium: false,
    questions: [{ id: 'capitals-1', text: 'What is the capital of Portugal?', choices: ['Porto', 'Lisbon', 'Coimbra'] }],
  },
  {
    id: 'rivers',
    title: 'Rivers of France',
    premium: false,
    questions: [{ id: 'rivers-1', text: 'Which river flows through Lyon?', choices: ['Rhône', 'Loire', 'Seine'] }],
  },
  {
    id: 'masters',
    title: 'Masters of the Renaissance',
    premium: true,
    questions: [{ id: 'masters-1', text: 'Who painted the Ginevra de’ Benci?', choices: ['Raphael', 'Leonardo da Vinci', 'Titian'] }],
  },
];

const typeDefs = /* GraphQL */ `
  type Question {
    id: ID!
    text: String!
    choices: [String!]!
  }
  type Quiz {
    id: ID!
    title: String!
    premium: Boolean!
    questions: [Question!]!
  }
  "The signed-in caller, as Sésame's access token describes it."
  type Viewer {
    id: ID!
    sessionId: ID!
    actorType: String!
    plan: String!
    organizationId: ID
    permissions: [String!]!
  }
  type Query {
    me: Viewer!
    "Free quizzes: anyone signed in."
    quizzes: [Quiz!]!
    "A premium quiz: needs the permission quiz:play:premium."
    premiumQuiz: Quiz
  }
`;

export const schema = createSchema<SesameGraphQLContext>({
  typeDefs,
  resolvers: {
    Query: {
      me: (_root, _args, { sesame }) => ({
        id: sesame.user.id,
        sessionId: sesame.session.id,
        actorType: sesame.actor_type,
        plan: sesame.user.plan,
        organizationId: sesame.organization?.id ?? null,
        permissions: sesame.permissions,
      }),
      quizzes: () => quizzes.filter((q) => !q.premium),
      premiumQuiz: (_root, _args, context) => {
        assertPermission(context, 'quiz:play:premium');
        return quizzes.find((q) => q.premium) ?? null;
      },
    },
  },
});
