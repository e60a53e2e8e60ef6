/*
 * jobwait.js — wait for one jobwait job from a browser.
 *
 *   const w = jobwait.wait('7f0c…', {
 *     onStatus(body)    {},  // PENDING / PROCESSING (may be called several times)
 *     onCompleted(body) {},  // {status:'COMPLETED', trendAnalysis, recommendations, …}
 *     onFailed(body)    {},  // {status:'FAILED', error, message}
 *     onTimeout(body)   {},  // the wait budget was spent; body.timedOut === true
 *     onError(err)      {},  // {code, message, status}: JOB_001, JOB_002, JOB_003, NETWORK, …
 *     onTransport(name) {},  // 'sse' | 'longpoll' | 'poll'
 *     baseUrl: '',           // e.g. 'https://jobwait.example.com'
 *     transports: ['sse', 'longpoll', 'poll'],
 *     budgetMs: 30000,       // the longest the plain poll keeps polling
 *   });
 *   w.cancel();
 *
 * Exactly one of onCompleted, onFailed, onTimeout, onError is called, once,
 * unless cancel() comes first. After it (or cancel) no timer, request or
 * stream is left behind.
 *
 * Transports, best first: server-sent events when the browser has
 * EventSource; long poll when it does not or the stream cannot be opened;
 * the plain 2-second poll when long poll requests fail at the network level
 * (a proxy that cuts held requests, say). A JSON error from the server
 * (unknown job, bad id) is reported, not retried with another transport.
 *
 * Plain ES2017, no dependencies: load it with <script src="/jobwait.js">
 * (window.jobwait), require() it, or copy it.
 */
(function (root, factory) {
  'use strict';
  const api = factory();
  if (typeof module === 'object' && module && module.exports) {
    module.exports = api;
  } else {
    root.jobwait = api;
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const ORDER = ['sse', 'longpoll', 'poll'];
  const LONG_POLL_SECONDS = 30; // the server clamps it to its own budget
  const DEFAULT_POLL_MS = 2000;
  const MAX_POLL_MS = 30000;
  const DEFAULT_BUDGET_MS = 30000;
  const SSE_MAX_RECONNECTS = 5; // consecutive errors without an event, then fall back

  function isTerminal(body) {
    return body && (body.status === 'COMPLETED' || body.status === 'FAILED');
  }

  // retryAfterMs reads a Retry-After header in seconds, bounded.
  function retryAfterMs(res) {
    const h = res && res.headers && res.headers.get('Retry-After');
    const s = h ? parseInt(h, 10) : NaN;
    if (!(s > 0)) return DEFAULT_POLL_MS;
    return Math.min(s * 1000, MAX_POLL_MS);
  }

  function wait(jobId, opts) {
    const o = opts || {};
    const base = String(o.baseUrl || '').replace(/\/+$/, '');
    const path = base + '/api/events/jobs/' + encodeURIComponent(String(jobId)) + '/';
    const statusUrl = path + 'status';
    const streamUrl = path + 'stream';
    const enabled = ORDER.filter(function (t) {
      return !o.transports || o.transports.indexOf(t) >= 0;
    });
    const budgetMs = o.budgetMs > 0 ? o.budgetMs : DEFAULT_BUDGET_MS;

    let done = false;
    let es = null; // the open EventSource
    let ctrl = null; // the AbortController of the request in flight
    let timer = null; // the one pending setTimeout
    let last = null; // the last body seen, for a client-side timeout

    function call(name, arg) {
      const fn = o[name];
      if (typeof fn === 'function') fn(arg);
    }

    // cleanup releases everything; after it nothing of this wait runs.
    function cleanup() {
      done = true;
      if (es) {
        es.close();
        es = null;
      }
      if (ctrl) {
        ctrl.abort();
        ctrl = null;
      }
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
    }

    function finish(name, arg) {
      if (done) return;
      cleanup();
      call(name, arg);
    }

    function status(body) {
      if (done) return;
      last = body;
      call('onStatus', body);
    }

    // deliver hands a status body to the right callback and says whether
    // the wait is over.
    function deliver(body) {
      if (body.status === 'COMPLETED') {
        finish('onCompleted', body);
      } else if (body.status === 'FAILED') {
        finish('onFailed', body);
      } else if (body.timedOut) {
        last = body;
        finish('onTimeout', body);
      } else {
        status(body);
        return false;
      }
      return true;
    }

    function later(fn, ms) {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        if (!done) fn();
      }, ms);
    }

    function next(after) {
      const i = enabled.indexOf(after);
      const t = enabled[i + 1];
      if (t === 'longpoll') return longPoll();
      if (t === 'poll') return poll();
      finish('onError', { code: 'NETWORK', message: '서버에 연결할 수 없습니다', status: 0 });
    }

    // get fetches url and resolves to {res, body}; a network failure, an
    // abort, a timeout or an answer that is not JSON rejects.
    async function get(url, timeoutMs) {
      const c = typeof AbortController === 'function' ? new AbortController() : null;
      ctrl = c;
      let guard = null;
      if (c && timeoutMs) guard = setTimeout(function () { c.abort(); }, timeoutMs);
      try {
        const res = await fetch(url, {
          headers: { Accept: 'application/json' },
          cache: 'no-store',
          signal: c ? c.signal : undefined,
        });
        const body = await res.json();
        return { res: res, body: body };
      } finally {
        if (guard !== null) clearTimeout(guard);
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

    // --- server-sent events -------------------------------------------------

    function sse() {
      call('onTransport', 'sse');
      let seen = false; // an event arrived on this stream
      let errors = 0; // errors since the last event
      try {
        es = new EventSource(streamUrl);
      } catch (e) {
        es = null;
        return next('sse');
      }
      function on(type, fn) {
        es.addEventListener(type, function (ev) {
          if (done) return;
          let body;
          try {
            body = JSON.parse(ev.data);
          } catch (e) {
            return; // not ours: ignore rather than end the wait
          }
          seen = true;
          errors = 0;
          fn(body);
        });
      }
      on('status', status);
      on('completed', function (b) { finish('onCompleted', b); });
      on('failed', function (b) { finish('onFailed', b); });
      on('timeout', function (b) { last = b; finish('onTimeout', b); });
      // The job disappeared or became unreadable mid-stream: the body is the
      // server's {code, message}.
      on('problem', function (b) {
        finish('onError', { code: b.code, message: b.message, status: b.code === 'JOB_001' ? 404 : 502 });
      });
      es.onerror = function () {
        if (done || !es) return;
        errors++;
        // After events arrived, a drop is the browser's to repair: it
        // reconnects with Last-Event-ID and the server continues the same
        // wait. Anything else (never opened, a JSON error instead of a
        // stream, closed for good, or endless reconnects) is asked once
        // with a plain status request.
        if (seen && es.readyState === EventSource.CONNECTING && errors < SSE_MAX_RECONNECTS) return;
        es.close();
        es = null;
        probe();
      };
    }

    // probe asks the status once after the stream failed: a JSON error is
    // the answer, a terminal job is the result, anything else carries on
    // with the next transport.
    async function probe() {
      let r;
      try {
        r = await get(statusUrl, 10000);
      } catch (e) {
        if (!done) next('sse');
        return;
      }
      if (done) return;
      if (!r.res.ok) {
        if (r.res.status === 503) return next('sse'); // overloaded or Redis down: try again elsewhere
        return finish('onError', errorOf(r.res, r.body));
      }
      if (!deliver(r.body)) next('sse');
    }

    // --- long poll ----------------------------------------------------------

    function longPoll() {
      call('onTransport', 'longpoll');
      let busySince = 0; // when the server started answering 503
      const once = async function () {
        const started = Date.now();
        let r;
        try {
          r = await get(statusUrl + '?wait=' + LONG_POLL_SECONDS, (LONG_POLL_SECONDS + 15) * 1000);
        } catch (e) {
          if (!done) next('longpoll');
          return;
        }
        if (done) return;
        if (r.res.status === 503) {
          // Too many waiters or Redis down: back off as told, for at most
          // one budget, then say so.
          if (!busySince) busySince = started;
          if (Date.now() - busySince >= budgetMs) return finish('onError', errorOf(r.res, r.body));
          return later(once, retryAfterMs(r.res));
        }
        busySince = 0;
        if (!r.res.ok) return finish('onError', errorOf(r.res, r.body));
        if (deliver(r.body)) return;
        // A server that answered at once did not hold the request (an old
        // version, or a proxy): do not spin.
        const quick = Date.now() - started < 1000;
        if (quick) later(once, retryAfterMs(r.res));
        else once();
      };
      once();
    }

    // --- plain poll ---------------------------------------------------------

    function poll() {
      call('onTransport', 'poll');
      const deadline = Date.now() + budgetMs;
      let failure = null;
      const once = async function () {
        let r = null;
        try {
          r = await get(statusUrl, 10000);
        } catch (e) {
          failure = { code: 'NETWORK', message: '서버에 연결할 수 없습니다', status: 0 };
        }
        if (done) return;
        let delay = DEFAULT_POLL_MS;
        if (r) {
          if (!r.res.ok && r.res.status !== 503) return finish('onError', errorOf(r.res, r.body));
          if (r.res.ok) {
            failure = null;
            if (deliver(r.body)) return;
          } else {
            failure = errorOf(r.res, r.body);
          }
          delay = retryAfterMs(r.res);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          if (failure) return finish('onError', failure);
          return finish('onTimeout', Object.assign({}, last || { jobId: String(jobId) }, { timedOut: true }));
        }
        later(once, Math.min(delay, left));
      };
      once();
    }

    if (enabled.length === 0) {
      throw new Error('jobwait: no transport enabled');
    }
    const first = enabled[0] === 'sse' && typeof EventSource !== 'function'
      ? enabled[1]
      : enabled[0];
    // Start after the caller has its handle, so that callbacks may cancel.
    Promise.resolve().then(function () {
      if (done) return;
      if (first === 'sse') sse();
      else if (first === 'longpoll') longPoll();
      else if (first === 'poll') poll();
      else finish('onError', { code: 'UNSUPPORTED', message: '이 브라우저에서는 기다릴 수 없습니다', status: 0 });
    });

    return {
      cancel: cleanup,
    };
  }

  return { wait: wait };
});
