/*
 * @jobwait/client — wait for jobwait jobs, in a browser or in Node 20+.
 *
 *   import { wait, waitMany, isTerminal } from '@jobwait/client';
 *
 *   const w = wait('7f0c…', {
 *     onStatus(body)    {},  // PENDING / PROCESSING (may be called several times)
 *     onCompleted(body) {},  // {status:'COMPLETED', trendAnalysis, recommendations, …}
 *     onFailed(body)    {},  // {status:'FAILED', error, message}
 *     onTimeout(body)   {},  // the wait budget was spent; body.timedOut === true
 *     onError(err)      {},  // {code, message, status}: JOB_001, JOB_002, JOB_003, AUTH_001, NETWORK, TOKEN, …
 *     onTransport(name) {},  // 'sse' | 'longpoll' | 'poll'
 *     baseUrl: '',           // e.g. 'https://jobwait.example.com'
 *     transports: ['sse', 'longpoll', 'poll'],
 *     budgetMs: 30000,       // the one deadline of the wait, across every transport
 *     token: () => jwt,      // a signed wait token (string or promise of one), when the server asks for one
 *     EventSource,           // an EventSource constructor, where there is no global one (Node)
 *   });
 *   w.cancel();
 *
 *   const m = waitMany(['a', 'b', 'c'], {
 *     // the same callbacks, each called with (body, jobId), per job:
 *     onStatus, onCompleted, onFailed, onTimeout, onError,
 *     onTransport(name) {},
 *     onDone() {},           // every job has ended
 *     baseUrl, transports, budgetMs, token, EventSource,
 *   });
 *   m.cancel();
 *
 * For each job exactly one of onCompleted, onFailed, onTimeout, onError is
 * called, once, unless cancel() comes first. After the last (or cancel) no
 * timer, request or stream is left behind. waitMany waits for every job on
 * one connection (at most the server's JOBWAIT_MAX_IDS jobs, 50 by default).
 *
 * Transports, best first: server-sent events when there is an EventSource
 * (the global one, or opts.EventSource); long poll when there is none (Node
 * without one), or the stream cannot be opened or stays in CONNECTING for
 * more than a few seconds (a browser out of connections to the host); the
 * plain poll when long poll requests fail at the network level (a proxy
 * that cuts held requests, say). A stream closed by an answer that is not
 * a stream (a 503 while the server is full, a 502 or 504 from a proxy
 * whose upstream restarts) is reopened after a backoff (the server's
 * Retry-After on a 503), resuming with ?lastEventId=. A JSON error from the
 * server (unknown job, bad id) is reported, not retried.
 *
 * One deadline per wait (budgetMs from the call): a long poll asks only for
 * the time left, the plain poll stops at the deadline, and whatever the
 * transport, every job still running a moment past it gets onTimeout.
 *
 * Tokens: opts.token is asked once when the wait first needs it; its value
 * goes as `Authorization: Bearer …` on requests and as ?access_token= on
 * stream URLs (EventSource cannot set headers). When the server answers
 * 401 AUTH_001 (or a stream ends with a `problem` AUTH_001: the token
 * expired) the provider is asked once for a fresh token and the request or
 * stream is made again; an AUTH_001 answered to that fresh token, before
 * anything else succeeded with it, ends the wait with onError.
 *
 * Plain ES2017 in an ES module, no dependencies, no DOM: only fetch,
 * AbortController and timers (and EventSource when there is one). Types:
 * jobwait.d.ts.
 */

const ORDER = ['sse', 'longpoll', 'poll'];
const DEFAULT_POLL_MS = 2000;
const MAX_POLL_MS = 30000;
const DEFAULT_BUDGET_MS = 30000;
const CONNECT_MS = 4000; // a stream not open by then falls back
// The longest retry: a server asks for (a replica that shuts down spreads
// its clients' reconnects over the poll interval plus 5 s): a stream that
// dropped gets that long to reconnect on top of CONNECT_MS.
const RETRY_MAX_MS = 7000;
const GRACE_MS = 1500; // past the deadline, the wait ends whatever the server says
const SSE_MAX_REOPENS = 6; // consecutive reopens without an event, then fall back
const MAX_BACKOFF_MS = 8000;
// EventSource's readyState values, the same for every implementation.
const CONNECTING = 0;
const OPEN = 1;
// The HTTP status each error code of a stream's problem event stands for.
const PROBLEM_STATUS = { JOB_001: 404, AUTH_001: 401, AUTH_002: 403 };

/** isTerminal reports whether a body is final: COMPLETED or FAILED. */
export function isTerminal(body) {
  return !!body && (body.status === 'COMPLETED' || body.status === 'FAILED');
}

// retryAfterMs reads a Retry-After header in seconds, bounded.
function retryAfterMs(res) {
  const h = res && res.headers && res.headers.get('Retry-After');
  const s = h ? parseInt(h, 10) : NaN;
  if (!(s > 0)) return DEFAULT_POLL_MS;
  return Math.min(s * 1000, MAX_POLL_MS);
}

// backoffMs is the delay before reopen n (1, 2, …): doubling from 500 ms,
// with jitter so that the clients of a restarted replica do not return
// all at once.
function backoffMs(n) {
  const d = Math.min(500 * Math.pow(2, n - 1), MAX_BACKOFF_MS);
  return d / 2 + Math.random() * d / 2;
}

function problemError(body) {
  return { code: body.code, message: body.message, status: PROBLEM_STATUS[body.code] || 502 };
}

function isAuthExpired(body) {
  return !!body && body.code === 'AUTH_001';
}

const networkError = { code: 'NETWORK', message: '서버에 연결할 수 없습니다', status: 0 };

function tokenError(e) {
  return { code: 'TOKEN', message: 'token: ' + (e && e.message ? e.message : String(e)), status: 0 };
}

// start runs one wait for ids: single (wait) on a job's own URLs, else
// (waitMany) on the many-job URLs. It returns the handle.
function start(ids, o, single) {
  const base = String(o.baseUrl || '').replace(/\/+$/, '');
  // Relative URLs need a page to be relative to.
  if (!base && typeof location === 'undefined') throw new Error('jobwait: baseUrl is required outside a page');
  const root = base + '/api/events/jobs/';
  const enabled = ORDER.filter(function (t) {
    return !o.transports || o.transports.indexOf(t) >= 0;
  });
  if (enabled.length === 0) throw new Error('jobwait: no transport enabled');
  const ES = typeof o.EventSource === 'function' ? o.EventSource
    : typeof EventSource === 'function' ? EventSource : null;
  const budgetMs = o.budgetMs > 0 ? o.budgetMs : DEFAULT_BUDGET_MS;
  const deadline = Date.now() + budgetMs;

  let done = false;
  let es = null; // the open EventSource
  let ctrl = null; // the AbortController of the request in flight
  let timer = null; // the one pending setTimeout of the transport
  let stuck = null; // the stream's CONNECTING guard
  let guard = null; // the deadline guard
  let lastEventId = ''; // the stream's last event id, to resume
  let token = null; // the provider's token: a promise of a string, null until asked
  let freshToken = false; // renewed after an AUTH_001, and nothing succeeded with it yet
  const last = {}; // jobId -> the last body seen
  const ended = {}; // jobId -> true once its final callback ran
  let left = ids.length;

  function call(name, arg, id) {
    const fn = o[name];
    if (typeof fn === 'function') fn(arg, id);
  }

  function running() {
    return ids.filter(function (id) { return !ended[id]; });
  }

  // url is the status (or stream) URL of the jobs still running, with
  // extra query parameters.
  function url(kind, params) {
    let u;
    let q = [];
    if (single) {
      u = root + encodeURIComponent(ids[0]) + '/' + kind;
    } else {
      u = root + kind;
      // The stream's ids stay as first sent: its event id proves which
      // jobs ended for that set of ids only (with another, all come again).
      const list = kind === 'stream' ? ids : running();
      q.push('ids=' + list.map(encodeURIComponent).join(','));
    }
    q = q.concat(params || []);
    return q.length ? u + '?' + q.join('&') : u;
  }

  function clearTimers() {
    [timer, stuck, guard].forEach(function (t) { if (t !== null) clearTimeout(t); });
    timer = stuck = guard = null;
  }

  // cleanup releases everything; after it nothing of this wait runs.
  function cleanup() {
    done = true;
    closeStream();
    if (ctrl) {
      ctrl.abort();
      ctrl = null;
    }
    clearTimers();
  }

  function closeStream() {
    if (es) {
      es.close();
      es = null;
    }
    if (stuck !== null) {
      clearTimeout(stuck);
      stuck = null;
    }
  }

  // end calls a job's final callback, once; after the last job's, the
  // wait is over.
  function end(id, name, arg) {
    if (done || ended[id] || ids.indexOf(id) < 0) return;
    ended[id] = true;
    left--;
    if (left === 0) cleanup();
    call(name, arg, id);
    if (left === 0 && !single) call('onDone');
  }

  // endAll ends every running job with the same callback.
  function endAll(name, argOf) {
    running().forEach(function (id) { end(id, name, argOf(id)); });
  }

  function timeoutBody(id) {
    return Object.assign({}, last[id] || { jobId: id }, { timedOut: true });
  }

  // deliver hands a job's body to the right callback.
  function deliver(id, body) {
    if (done || ended[id] || ids.indexOf(id) < 0) return;
    if (body && body.code) return end(id, 'onError', problemError(body));
    if (body.status === 'COMPLETED') return end(id, 'onCompleted', body);
    if (body.status === 'FAILED') return end(id, 'onFailed', body);
    last[id] = body;
    if (body.timedOut) return end(id, 'onTimeout', body);
    call('onStatus', body, id);
  }

  // answer delivers a status answer's bodies (a job's, or {"jobs":[…]}).
  function answer(body) {
    if (single) return deliver(ids[0], body);
    (body.jobs || []).forEach(function (b) { deliver(b.jobId, b); });
    if (body.timedOut) endAll('onTimeout', timeoutBody);
  }

  function later(fn, ms) {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(function () {
      timer = null;
      if (!done) fn();
    }, Math.max(0, ms));
  }

  function timeLeft() {
    return deadline - Date.now();
  }

  function next(after) {
    closeStream();
    const i = enabled.indexOf(after);
    const t = enabled[i + 1];
    if (t === 'longpoll') return longPoll();
    if (t === 'poll') return poll();
    endAll('onError', function () { return networkError; });
  }

  // fail ends every running job with a request's error.
  function fail(err) {
    endAll('onError', function () { return err; });
  }

  // --- tokens ---------------------------------------------------------------

  // currentToken resolves to the token to send ('' for none), asking the
  // provider only when there is none yet. A provider that throws or
  // rejects ends the wait (TOKEN), and the promise rejects.
  function currentToken() {
    if (typeof o.token !== 'function') return Promise.resolve('');
    if (token === null) {
      token = Promise.resolve().then(function () { return o.token(); }).then(function (v) {
        return v == null ? '' : String(v);
      });
    }
    return token.catch(function (e) {
      if (!done) fail(tokenError(e));
      throw e;
    });
  }

  // renewToken makes the next currentToken ask the provider again, after
  // an AUTH_001; false when the token in use is already a fresh one, whose
  // AUTH_001 is the answer.
  function renewToken() {
    if (typeof o.token !== 'function' || freshToken) return false;
    token = null;
    freshToken = true;
    return true;
  }

  // --- requests -------------------------------------------------------------

  // get fetches u and resolves to {res, body}; a network failure, an
  // abort, a timeout or an answer that is not JSON (a proxy's error
  // page) rejects. A 401 AUTH_001 is asked again once with a fresh token.
  async function get(u, timeoutMs) {
    for (;;) {
      const tok = await currentToken();
      if (done) throw new Error('jobwait: cancelled');
      const r = await fetchJSON(u, timeoutMs, tok);
      if (r.res.status === 401 && isAuthExpired(r.body) && renewToken()) continue;
      if (r.res.ok) freshToken = false;
      return r;
    }
  }

  async function fetchJSON(u, timeoutMs, tok) {
    const c = typeof AbortController === 'function' ? new AbortController() : null;
    ctrl = c;
    let cut = null;
    if (c && timeoutMs) cut = setTimeout(function () { c.abort(); }, timeoutMs);
    const headers = { Accept: 'application/json' };
    if (tok) headers.Authorization = 'Bearer ' + tok;
    try {
      const res = await fetch(u, {
        headers: headers,
        cache: 'no-store',
        signal: c ? c.signal : undefined,
      });
      const body = await res.json();
      return { res: res, body: body };
    } finally {
      if (cut !== null) clearTimeout(cut);
      if (ctrl === c) ctrl = null;
    }
  }

  function errorOf(res, body) {
    return {
      code: (body && body.code) || 'HTTP_' + res.status,
      message: (body && body.message) || res.statusText || '요청이 실패했습니다',
      status: res.status,
    };
  }

  // --- server-sent events ---------------------------------------------------

  let reopens = 0; // reopens since the last event

  function sse() {
    if (reopens === 0) call('onTransport', 'sse');
    currentToken().then(function (tok) {
      if (!done) openStream(tok);
    }, function () {});
  }

  function openStream(tok) {
    const params = [];
    if (lastEventId) params.push('lastEventId=' + encodeURIComponent(lastEventId));
    if (tok) params.push('access_token=' + encodeURIComponent(tok));
    try {
      es = new ES(url('stream', params));
    } catch (e) {
      es = null;
      return next('sse');
    }
    const mine = es;
    // A stream that cannot be opened (no free connection to the host, a
    // proxy that never answers) must not wait silently.
    function watchConnecting(ms) {
      if (stuck !== null) return;
      stuck = setTimeout(function () {
        stuck = null;
        if (!done && es === mine && es.readyState !== OPEN) next('sse');
      }, ms);
    }
    watchConnecting(CONNECT_MS);
    es.onopen = function () {
      if (stuck !== null) {
        clearTimeout(stuck);
        stuck = null;
      }
    };
    function on(type, fn) {
      es.addEventListener(type, function (ev) {
        if (done || es !== mine) return;
        let body;
        try {
          body = JSON.parse(ev.data);
        } catch (e) {
          return; // not ours: ignore rather than end the wait
        }
        if (ev.lastEventId) lastEventId = ev.lastEventId;
        if (!(type === 'problem' && isAuthExpired(body))) {
          reopens = 0;
          freshToken = false;
        }
        fn(body, single ? ids[0] : body.jobId);
      });
    }
    on('status', function (b, id) { deliver(id, b); });
    on('completed', function (b, id) { end(id, 'onCompleted', b); });
    on('failed', function (b, id) { end(id, 'onFailed', b); });
    on('timeout', function (b, id) { last[id] = b; end(id, 'onTimeout', b); });
    // A job that does not exist, disappeared or became unreadable: the
    // body is the server's {code, message} (and jobId, many-job). AUTH_001
    // is the token's end, for the whole stream: reopen it with a fresh one.
    on('problem', function (b, id) {
      if (!isAuthExpired(b)) return end(id, 'onError', problemError(b));
      closeStream();
      if (!renewToken()) return fail(problemError(b));
      reopens++;
      sse();
    });
    es.onerror = function () {
      if (done || es !== mine) return;
      // CONNECTING: EventSource reconnects by itself, with
      // Last-Event-ID, and the server continues the same wait; unless it
      // stays CONNECTING too long.
      if (es.readyState === CONNECTING) return watchConnecting(RETRY_MAX_MS + CONNECT_MS);
      // CLOSED: the answer was not a stream (a JSON error, a 401, a 503, a
      // proxy's 502 or 504, a 204). Ask once what it was.
      closeStream();
      if (++reopens > SSE_MAX_REOPENS) return next('sse');
      probe();
    };
  }

  // probe asks the status once after the stream was closed: a JSON error
  // is the answer; a final job its result; a 503, a proxy's error page
  // or no answer at all, a reason to reopen the stream after a backoff.
  async function probe() {
    let r;
    try {
      r = await get(url('status'), 10000);
    } catch (e) {
      if (!done) later(sse, backoffMs(reopens));
      return;
    }
    if (done) return;
    if (r.res.status === 503) return later(sse, retryAfterMs(r.res));
    if (!r.res.ok) return fail(errorOf(r.res, r.body));
    answer(r.body);
    // Still running: come back when the server says (a full server's
    // Retry-After is the poll interval too).
    if (!done) later(sse, Math.max(backoffMs(reopens), retryAfterMs(r.res)));
  }

  // --- long poll ------------------------------------------------------------

  function longPoll() {
    call('onTransport', 'longpoll');
    const once = async function () {
      const ms = timeLeft();
      if (ms <= 0) return endAll('onTimeout', timeoutBody);
      const started = Date.now();
      let r;
      try {
        // Only the time left: the wait has one deadline.
        r = await get(url('status', ['wait=' + Math.max(1, Math.ceil(ms / 1000))]), ms + 15000);
      } catch (e) {
        if (!done) next('longpoll');
        return;
      }
      if (done) return;
      if (r.res.status === 503) return later(once, Math.min(retryAfterMs(r.res), timeLeft()));
      if (!r.res.ok) return fail(errorOf(r.res, r.body));
      const left = running().length;
      answer(r.body);
      if (done) return;
      // A server that answered at once and ended no job did not hold the
      // request (an old version, or a proxy): do not spin. One that ended
      // a job (a many-job poll answers as soon as one is final) is asked
      // again at once, for the others.
      if (running().length === left && Date.now() - started < 1000) later(once, Math.min(retryAfterMs(r.res), timeLeft()));
      else once();
    };
    once();
  }

  // --- plain poll -----------------------------------------------------------

  function poll() {
    call('onTransport', 'poll');
    let failure = null;
    const once = async function () {
      let r = null;
      try {
        r = await get(url('status'), Math.max(1000, Math.min(10000, timeLeft())));
      } catch (e) {
        failure = networkError;
      }
      if (done) return;
      let delay = DEFAULT_POLL_MS;
      if (r) {
        if (!r.res.ok && r.res.status !== 503) return fail(errorOf(r.res, r.body));
        if (r.res.ok) {
          failure = null;
          answer(r.body);
          if (done) return;
        } else {
          failure = errorOf(r.res, r.body);
        }
        delay = retryAfterMs(r.res);
      }
      const ms = timeLeft();
      if (ms <= 0) {
        if (failure) return fail(failure);
        return endAll('onTimeout', timeoutBody);
      }
      later(once, Math.min(delay, ms));
    };
    once();
  }

  const first = enabled[0] === 'sse' && ES === null ? enabled[1] : enabled[0];
  // Start after the caller has its handle, so that callbacks may cancel.
  Promise.resolve().then(function () {
    if (done) return;
    // Whatever the transport, the wait ends a moment past its deadline.
    guard = setTimeout(function () {
      guard = null;
      endAll('onTimeout', timeoutBody);
    }, budgetMs + GRACE_MS);
    if (first === 'sse') sse();
    else if (first === 'longpoll') longPoll();
    else if (first === 'poll') poll();
    else fail({ code: 'UNSUPPORTED', message: '이 환경에서는 기다릴 수 없습니다', status: 0 });
  });

  return { cancel: cleanup };
}

/** wait waits for one job; see the top of this file and jobwait.d.ts. */
export function wait(jobId, opts) {
  return start([String(jobId)], opts || {}, true);
}

/** waitMany waits for many jobs on one connection; duplicates are waited for once. */
export function waitMany(jobIds, opts) {
  const ids = [];
  (jobIds || []).forEach(function (id) {
    id = String(id);
    if (ids.indexOf(id) < 0) ids.push(id);
  });
  if (ids.length === 0) throw new Error('jobwait: no job ids');
  return start(ids, opts || {}, false);
}
