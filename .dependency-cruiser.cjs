/**
 * The layering of src/ (README "Development", layout): shared ← infra ← identity ← http ←
 * modules/<feature> ← the composition root (container.ts, app.ts, server.ts, main.ts). A lower
 * floor never imports a higher one, features never import each other (what two features share
 * moves down a floor), and nothing imports in a cycle. Run by `npm run lint:deps` (in `npm test`).
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'No import cycle anywhere in src/.', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'features-stay-apart',
      severity: 'error',
      comment: 'A feature never imports another feature: shared code moves down to identity/, http/, infra/ or shared/.',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/([^/]+)/', pathNot: '^src/modules/$1/' },
    },
    {
      name: 'floors-below-features',
      severity: 'error',
      comment: 'identity/, http/, infra/ and shared/ never import a feature or the composition root.',
      from: { path: '^src/(identity|http|infra|shared|config)/' },
      to: { path: '^src/(modules/|container|app|server|main)' },
    },
    {
      name: 'identity-below-http',
      severity: 'error',
      comment: 'The identity core knows nothing of HTTP.',
      from: { path: '^src/identity/' },
      to: { path: '^src/http/' },
    },
    {
      name: 'infra-below-identity',
      severity: 'error',
      comment: 'Infrastructure knows nothing of identities or HTTP.',
      from: { path: '^src/infra/' },
      to: { path: '^src/(identity|http)/' },
    },
    {
      name: 'shared-at-the-bottom',
      severity: 'error',
      comment: 'shared/ (errors, problem+json, logging, pagination) imports no other floor.',
      from: { path: '^src/shared/' },
      to: { path: '^src/(infra|identity|http|config)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
