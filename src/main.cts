/**
 * Entry point of `npm start` (CommonJS on purpose). libuv reads UV_THREADPOOL_SIZE once, when
 * its thread pool first starts, and loading an ES module already starts it (the loader reads
 * files on the pool): the size has to be set here, before the first import.
 */
import { plannedWorkers, threadPoolSize } from './cluster/workers.cjs';

process.env.UV_THREADPOOL_SIZE ??= String(threadPoolSize(plannedWorkers(process.env)));
void import('./main.js');
