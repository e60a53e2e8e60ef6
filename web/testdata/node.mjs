// Run by TestClientInNode in a scratch project where @jobwait/client is
// installed from its tarball: `node node.mjs BASE_URL JOB_ID MODE` waits
// for the job (MODE longpoll: Node's own means, no EventSource; MODE
// eventsource: with npm's eventsource; MODE many: JOB_ID is a
// comma-separated list, waited for with waitMany over long poll, within
// 15 s) and prints one JSON report.
import * as client from '@jobwait/client';
import { createRequire } from 'node:module';

const [baseUrl, jobId, mode] = process.argv.slice(2);
const report = {
  exports: Object.keys(client).sort(),
  required: Object.keys(createRequire(import.meta.url)('@jobwait/client')).sort(),
  hasEventSource: typeof globalThis.EventSource === 'function',
  // Without a page, relative URLs mean nothing: baseUrl is required.
  noBaseUrl: (() => { try { client.wait(jobId, {}); return ''; } catch (e) { return e.message; } })(),
  transports: [],
  statuses: [],
  final: '',
  finals: {},
};
const opts = {
  baseUrl,
  budgetMs: 20000,
  onTransport(name) { report.transports.push(name); },
  onStatus(body) { report.statuses.push(body.status); },
  onCompleted(body) { report.final = 'completed'; report.body = body; },
  onFailed(body) { report.final = 'failed'; report.body = body; },
  onTimeout(body) { report.final = 'timeout'; report.body = body; },
  onError(err) { report.final = 'error'; report.error = err; },
};
if (mode === 'eventsource') opts.EventSource = (await import('eventsource')).EventSource;
if (mode === 'many') {
  const each = (what) => (body, id) => { report.finals[id] = what; };
  client.waitMany(jobId.split(','), {
    baseUrl, budgetMs: 15000,
    onTransport: opts.onTransport,
    onCompleted: each('completed'), onFailed: each('failed'),
    onTimeout: each('timeout'), onError: each('error'),
  });
} else {
  client.wait(jobId, opts);
}
// Node exits when nothing is left to wait for: the report is printed once
// the wait has released every timer, request and stream.
process.on('exit', () => { process.stdout.write(JSON.stringify(report)); });
