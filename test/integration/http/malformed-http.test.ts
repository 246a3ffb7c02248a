import { connect } from 'node:net';
import { expect } from 'chai';
import { useTestApp, type TestApp } from '../../helpers/app.js';

/** Sends raw bytes on a new connection and returns everything the server wrote before closing. */
async function raw(app: TestApp, request: string): Promise<string> {
  const { hostname, port } = new URL(app.url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined); // the server may close while we still write
  socket.write(request);
  await new Promise((resolve) => socket.once('close', resolve));
  return received;
}

function parse(response: string) {
  const [head, body] = response.split('\r\n\r\n', 2) as [string, string];
  const [statusLine, ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> };
}

describe("malformed HTTP refused by Node's parser (raw sockets)", () => {
  let app: TestApp;
  useTestApp((a) => (app = a));

  const cases: Array<[string, string, RegExp]> = [
    ['an unknown method', 'FROBNICATE /api/v1/auth/profile HTTP/1.1\r\nHost: localhost\r\n\r\n', /method/],
    ['a control character in a header value', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Note: a\x01b\r\n\r\n', /./],
    ['a header name with a space', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nBad Name: x\r\n\r\n', /character/],
    ['oversize headers', `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`, /too large/],
    ['a broken request line', 'GET\r\n\r\n', /./],
  ];
  for (const [what, request, detail] of cases) {
    it(`${what}: 400 problem+json validation_failed, and the connection is closed`, async () => {
      const { status, headers, body } = parse(await raw(app, request));
      expect(status).to.equal(400);
      expect(headers['content-type']).to.equal('application/problem+json');
      expect(headers['connection']).to.equal('close');
      expect(body).to.include({ type: 'urn:sesame:problem:validation_failed', status: 400, code: 'validation_failed' });
      expect(body.request_id).to.be.a('string').and.not.equal('');
      expect(String(body.detail)).to.match(detail);
    });
  }

  it('a well-formed request on a new connection is still served', async () => {
    const { status, body } = parse(await raw(app, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    expect(status).to.equal(200);
    expect(body).to.deep.equal({ status: 'ok' });
  });
});
