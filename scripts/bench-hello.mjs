/**
 * The bench's yardstick for cheap endpoints: a bare Express "hello" (node scripts/bench-hello.mjs
 * <port> <workers>), with as many node:cluster workers as the server under test.
 */
import cluster from 'node:cluster';
import express from 'express';

const [port, workers] = process.argv.slice(2).map(Number);
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  const app = express();
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  app.listen(port, '127.0.0.1');
}
