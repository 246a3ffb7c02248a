import { expect } from 'chai';
import { AppError, DependencyUnavailableError, errorCatalogue, type ErrorCode } from '../../src/shared/errors.js';
import { loadSpec } from '../../src/shared/spec.js';

interface Spec {
  paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  components: {
    schemas: { ErrorCode: { enum: string[] }; Problem: { properties: { code: { $ref: string } } } };
    responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
  };
}

const spec = loadSpec({ devRoutes: true }) as unknown as Spec;
const catalogueCodes = Object.keys(errorCatalogue) as ErrorCode[];
const httpMethods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** Every status code the spec declares as a response of an operation. */
function declaredStatuses(): Set<number> {
  const statuses = new Set<number>();
  for (const item of Object.values(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!httpMethods.has(method)) continue;
      for (const status of Object.keys(op.responses ?? {})) if (/^\d{3}$/.test(status)) statuses.add(Number(status));
    }
  }
  return statuses;
}

describe('error catalogue (src/shared/errors.ts) and the spec', () => {
  it("the spec's ErrorCode enum lists exactly the catalogue's codes", () => {
    const specCodes = spec.components.schemas.ErrorCode.enum;
    expect(new Set(specCodes).size, 'no duplicate in the enum').to.equal(specCodes.length);
    expect([...specCodes].sort()).to.deep.equal([...catalogueCodes].sort());
  });

  it("the Problem schema's code is the ErrorCode enum", () => {
    expect(spec.components.schemas.Problem.properties.code.$ref).to.equal('#/components/schemas/ErrorCode');
  });

  it('every catalogue entry has an error status and a title', () => {
    for (const code of catalogueCodes) {
      const { status, title } = errorCatalogue[code];
      expect(status, code).to.be.within(400, 599);
      expect(title, code).to.be.a('string').and.not.equal('');
      expect(code, 'snake_case').to.match(/^[a-z]+(_[a-z0-9]+)*$/);
    }
  });

  it('every catalogue status (except 404, 405 and 500, which any route may answer) is declared by some operation of the spec', () => {
    const declared = declaredStatuses();
    const missing = [...new Set(catalogueCodes.map((c) => errorCatalogue[c].status))].filter((s) => ![404, 405, 500].includes(s) && !declared.has(s));
    expect(missing, `statuses never declared in the spec's responses`).to.deep.equal([]);
  });

  it('every error status the spec declares can be produced by some catalogue code', () => {
    const producible = new Set<number>(catalogueCodes.map((c) => errorCatalogue[c].status));
    const declaredErrors = [...declaredStatuses()].filter((s) => s >= 400);
    expect(declaredErrors.filter((s) => !producible.has(s))).to.deep.equal([]);
  });

  it('the shared error responses are problem+json documents', () => {
    for (const [name, response] of Object.entries(spec.components.responses)) {
      expect(response.content?.['application/problem+json']?.schema?.$ref, name).to.equal('#/components/schemas/Problem');
    }
  });

  describe('AppError', () => {
    it('takes its status and title from the catalogue', () => {
      for (const code of catalogueCodes) {
        const e = new AppError(code);
        expect(e.status, code).to.equal(errorCatalogue[code].status);
        expect(e.message, code).to.equal(errorCatalogue[code].title);
        expect(e.code).to.equal(code);
        expect(e.detail).to.equal(undefined);
      }
    });

    it('carries a detail, field errors, headers and a cause', () => {
      const cause = new Error('root');
      const e = new AppError('validation_failed', { detail: 'Bad.', errors: [{ path: '/body/email', message: 'is invalid' }], headers: { 'Retry-After': '1' }, cause });
      expect(e).to.include({ status: 400, detail: 'Bad.', message: 'Bad.', name: 'AppError' });
      expect(e.errors).to.deep.equal([{ path: '/body/email', message: 'is invalid' }]);
      expect(e.headers).to.deep.equal({ 'Retry-After': '1' });
      expect(e.cause).to.equal(cause);
    });

    it('DependencyUnavailableError is a 503 service_unavailable asking to retry', () => {
      const e = new DependencyUnavailableError('redis');
      expect(e).to.be.instanceOf(AppError);
      expect(e).to.include({ code: 'service_unavailable', status: 503 });
      expect(e.detail).to.include('redis');
      expect(e.headers).to.deep.equal({ 'Retry-After': '5' });
    });
  });
});
