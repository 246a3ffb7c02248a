import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import { loadSpec } from '../../src/shared/spec.js';

/**
 * The docs show realistic examples: every request body has one that the contract accepts, and
 * every error response shows, for each code the operation lists in `x-error-codes`, a problem
 * that matches the Problem schema.
 */
type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, { schema: { $ref?: string } & Json }> };
  responses: Record<string, { content?: Record<string, { examples?: Record<string, { value: Json }> }> }>;
  'x-error-codes'?: Record<string, string[]>;
}

const spec = loadSpec({ devRoutes: true });
const schemas = (spec.components as { schemas: Record<string, Json> }).schemas;
const ajv = new Ajv({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
ajv.addSchema(spec as object, 'spec');
const validatorOf = (ref: string) => ajv.compile({ $ref: `spec${ref}` });

const operations: Array<[string, Operation]> = Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item as Record<string, Operation>).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([m, op]) => [`${m.toUpperCase()} ${path}`, op] as [string, Operation]),
);

describe('examples in the spec', () => {
  for (const [name, op] of operations.filter(([, o]) => o.requestBody)) {
    it(`${name} (${op.operationId}): its request body has an example the contract accepts`, () => {
      const ref = op.requestBody!.content['application/json']!.schema.$ref!;
      const example = schemas[ref.split('/').pop()!]!.example;
      expect(example, `${ref} has no example`).to.be.an('object');
      const validate = validatorOf(ref);
      expect(validate(example), JSON.stringify(validate.errors)).to.equal(true);
    });
  }

  it("shows, on each error response, one valid example per code of the operation's x-error-codes", () => {
    const validate = validatorOf('#/components/schemas/Problem');
    let checked = 0;
    for (const [name, op] of operations) {
      for (const [status, codes] of Object.entries(op['x-error-codes'] ?? {})) {
        const examples = op.responses[status]?.content?.['application/problem+json']?.examples ?? {};
        expect(Object.keys(examples), `${name} ${status}`).to.have.members(codes);
        for (const [code, { value }] of Object.entries(examples)) {
          expect(value, `${name} ${status} ${code}`).to.include({ code, status: Number(status) });
          expect(validate(value), `${name} ${code}: ${JSON.stringify(validate.errors)}`).to.equal(true);
          checked++;
        }
      }
    }
    expect(checked).to.be.greaterThan(100);
  });
});
