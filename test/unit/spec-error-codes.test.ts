import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { errorCatalogue, type ErrorCode } from '../../src/shared/errors.js';
import { loadSpec, projectRoot } from '../../src/shared/spec.js';

/** Status → codes, as in an operation's `x-error-codes` (openapi/README.md). */
type ErrorCodes = Record<string, string[]>;

interface Operation {
  operationId: string;
  tags?: string[];
  responses: Record<string, { $ref?: string; content?: Record<string, unknown> }>;
  'x-error-codes'?: ErrorCodes;
  /** Codes an operation answers in a redirect (`?error=<code>`) rather than as problem+json. */
  'x-redirect-error-codes'?: string[];
}

const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const spec = loadSpec({ devRoutes: true });
const components = spec.components as { responses: Record<string, { content?: Record<string, unknown> }> };

function operationsOf(paths: Record<string, unknown>): Operation[] {
  return Object.values(paths).flatMap((item) => httpMethods.flatMap((m) => ((item as Record<string, Operation | undefined>)[m] ? [(item as Record<string, Operation>)[m]!] : [])));
}

const operations = operationsOf(spec.paths);
const unmatched = spec['x-unmatched-error-codes'] as ErrorCodes;

/** The response an operation declares for `status`, its $ref followed. */
function declared(op: Operation, status: string) {
  const response = op.responses[status];
  const ref = response?.$ref?.replace('#/components/responses/', '');
  return ref === undefined ? response : components.responses[ref];
}

function expectCatalogued(where: string, codes: ErrorCodes): void {
  for (const [status, list] of Object.entries(codes)) {
    expect(status, `${where}: a status`).to.match(/^[45]\d\d$/);
    expect(list, `${where} ${status}`).to.be.an('array').that.is.not.empty;
    expect(new Set(list).size, `${where} ${status}: no duplicate`).to.equal(list.length);
    for (const code of list) {
      expect(errorCatalogue, `${where}: ${code} is in src/shared/errors.ts`).to.have.property(code);
      expect(errorCatalogue[code as ErrorCode].status, `${where}: ${code} is listed under its catalogue status`).to.equal(Number(status));
    }
  }
}

describe('error codes of the spec (x-error-codes) and the catalogue', () => {
  it('the spec has operations', () => {
    expect(operations.length).to.be.greaterThan(40);
  });

  it('every operation lists its error codes, each in the catalogue under its status', () => {
    for (const op of operations) {
      expect(op, op.operationId).to.have.property('x-error-codes').that.is.an('object');
      expectCatalogued(op.operationId, op['x-error-codes']!);
    }
  });

  it('every listed status is a response the operation declares, as problem+json', () => {
    for (const op of operations) {
      for (const status of Object.keys(op['x-error-codes']!)) {
        expect(declared(op, status)?.content, `${op.operationId} declares ${status}`).to.have.property('application/problem+json');
      }
    }
  });

  it('every declared problem+json error response lists at least one code', () => {
    for (const op of operations) {
      for (const status of Object.keys(op.responses).filter((s) => /^[45]\d\d$/.test(s))) {
        if (!declared(op, status)?.content?.['application/problem+json']) continue;
        expect(op['x-error-codes'], `${op.operationId} lists the codes of its ${status}`).to.have.property(status);
      }
    }
  });

  it('every operation has a default problem+json response (the SDK error types are complete)', () => {
    for (const op of operations) {
      expect(declared(op, 'default')?.content, op.operationId).to.have.property('application/problem+json');
    }
  });

  it('codes answered in redirects (x-redirect-error-codes) are in the catalogue', () => {
    for (const op of operations) {
      for (const code of op['x-redirect-error-codes'] ?? []) expect(errorCatalogue, `${op.operationId}: ${code} is in src/shared/errors.ts`).to.have.property(code);
    }
  });

  it('the codes of requests matching no operation are in the catalogue under their status', () => {
    expectCatalogued('x-unmatched-error-codes', unmatched);
  });

  it('every catalogue code but internal_error is listed by an operation (or for requests matching no operation)', () => {
    const listed = new Set([
      ...operations.flatMap((op) => [...Object.values(op['x-error-codes']!).flat(), ...(op['x-redirect-error-codes'] ?? [])]),
      ...Object.values(unmatched).flat(),
    ]);
    const unlisted = (Object.keys(errorCatalogue) as ErrorCode[]).filter((code) => code !== 'internal_error' && !listed.has(code));
    expect(unlisted, 'catalogue codes no operation lists').to.deep.equal([]);
    expect(listed.has('internal_error'), 'internal_error is the default response, never listed').to.equal(false);
  });
});

describe('the spec sources (openapi/README.md)', () => {
  const dir = path.join(projectRoot(), 'openapi', 'paths');

  it('paths/<tag>.yaml holds exactly the operations of that tag', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    const inFiles: string[] = [];
    for (const file of files) {
      const tag = path.basename(file, '.yaml');
      for (const op of operationsOf(YAML.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>)) {
        expect(op.tags, `${file}: ${op.operationId}`).to.deep.equal([tag]);
        inFiles.push(op.operationId);
      }
    }
    expect(inFiles.sort()).to.deep.equal(operations.map((op) => op.operationId).sort());
  });
});
