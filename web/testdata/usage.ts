// A typed use of the whole API of the installed package, checked by
// TestTypeDeclarations with `tsc --noEmit --strict`: it must compile.
import * as jobwait from '@jobwait/client';
import { wait, waitMany, isTerminal, type JobBody, type Handle, type Transport } from '@jobwait/client';

const one: Handle = wait('7f0c2a', {
  baseUrl: 'https://jobwait.example.com',
  transports: ['sse', 'longpoll'],
  budgetMs: 30000,
  token: () => 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
  EventSource,
  onStatus(body) { const s: 'PENDING' | 'PROCESSING' = body.status; console.log(s, body.message); },
  onCompleted(body) { body.recommendations.forEach((r) => console.log(r.title, r.roi)); console.log(body.eventDraftId); },
  onFailed(body) { console.log(body.error, body.message); },
  onTimeout(body) { const t: true | undefined = body.timedOut; console.log(t); },
  onError(err) { console.log(err.code, err.message, err.status); },
  onTransport(name) { const n: Transport = name; console.log(n); },
});
one.cancel();

const ids: readonly string[] = ['a', 'b', 'c'];
const many = waitMany(ids, {
  token: async () => 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
  onStatus(body, jobId) { console.log(jobId, body.status); },
  onCompleted(body, jobId) { console.log(jobId, body.trendAnalysis); },
  onFailed(body, jobId) { console.log(jobId, body.error); },
  onTimeout(body, jobId) { console.log(jobId, body.timedOut); },
  onError(err, jobId) { console.log(jobId, err.code); },
  onDone() { console.log('all ended'); },
});
many.cancel();

const body: JobBody = { jobId: 'a', status: 'FAILED', error: 'e', message: 'm' };
const final: boolean = isTerminal(body);
console.log(final);
jobwait.waitMany(['x']);
