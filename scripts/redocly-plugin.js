/**
 * Redocly plugin (redocly.yaml): the bundle lists each components section alphabetically.
 * Redocly adds a component where it first meets a reference to it, so without this one new
 * reference could reorder openapi/openapi.yaml and the SDK's types.gen.ts.
 */
const byName = ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0);

export default function sesamePlugin() {
  return {
    id: 'sesame',
    decorators: {
      oas3: {
        'sort-components': () => ({
          Root: {
            leave(root) {
              for (const [section, map] of Object.entries(root.components ?? {})) {
                root.components[section] = Object.fromEntries(Object.entries(map).sort(byName));
              }
            },
          },
        }),
      },
    },
  };
}
