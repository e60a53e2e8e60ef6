/*
 * app.js — the jobwait page: start a demo analysis or watch ?jobId=X, and
 * show what the job came to. The waiting itself is the client module,
 * client/jobwait.js; the list of analyses is history.js.
 *
 * Hooks for embedding pages and tests:
 *   window.jobwaitApp.onSelect = function (rec, index, jobId) {};
 *   document.addEventListener('jobwait:select', e => e.detail); // {recommendation, index, jobId}
 *   document.body.dataset.state: idle | waiting | completed | failed | timeout | error
 *
 * ?transport=sse|longpoll|poll forces one transport (for trying them out).
 *
 * A signed wait token for ?jobId=X (JOBWAIT_AUTH) comes in the fragment,
 * /?jobId=X#token=T, or the query, /?jobId=X&token=T. Prefer the fragment:
 * a browser never sends it, so no server or proxy log, and no Referer,
 * holds the token. Either way the page takes it out of the address bar at
 * once, so that history and a copied link keep no copy.
 */
import { wait } from './client/jobwait.js';
import * as analyses from './history.js';

const $ = function (id) { return document.getElementById(id); };
const el = {
  demo: $('demo'), draft: $('draft-id'), start: $('start'),
  watch: $('watch'), jobInput: $('job-id'),
  idle: $('idle'), waiting: $('waiting'), result: $('result'),
  problem: $('problem'), timeout: $('timeout'), actions: $('actions'),
  status: $('status'), message: $('waiting-message'), elapsed: $('elapsed'), jobLabel: $('job-label'),
  doneText: $('done-text'), cards: $('cards'), selection: $('selection'), trendBody: $('trend-body'),
  problemTitle: $('problem-title'), error: $('error'), hint: $('problem-hint'),
  timeoutText: $('timeout-text'), retry: $('retry'), keepWaiting: $('keep-waiting'),
  transport: $('transport'),
};

const STATUS_LABEL = { PENDING: '대기 중', PROCESSING: '분석 중', COMPLETED: '완료', FAILED: '실패' };
const TRANSPORT_LABEL = { sse: 'SSE', longpoll: '롱 폴링', poll: '폴링' };
const CARD_FIELDS = [
  ['prize', '경품'], ['method', '참여 방법'], ['cost', '예상 비용'], ['roi', '예상 ROI'],
];
const KEY_LABEL = {
  summary: '요약', keywords: '키워드', trends: '트렌드', insights: '인사이트',
  target: '타깃', targetAudience: '타깃 고객', audience: '타깃 고객', season: '시즌',
  period: '기간', region: '지역', category: '분류', competitors: '경쟁 이벤트',
  score: '점수', participants: '참여자 수', age: '연령', gender: '성별', confidence: '신뢰도', sources: '출처', source: '출처',
  channels: '채널', recommendation: '추천', reason: '근거', notes: '메모',
  seasonality: '시즌성', peakDays: '집중 요일', peakHours: '집중 시간대',
  title: '제목', description: '설명', name: '이름', value: '값', growth: '성장률',
};
const ERROR_HINT = {
  JOB_001: 'Job ID를 확인해주세요. 분석 기록은 1시간 동안 보관됩니다.',
  JOB_002: 'Job ID는 영문, 숫자, -, _ 로 된 64자 이내여야 합니다.',
  JOB_003: '분석은 끝났지만 결과를 읽을 수 없습니다. 다시 분석해주세요.',
  AUTH_001: '대기 토큰이 없거나 만료되었습니다. 분석을 요청한 화면에서 다시 열어주세요.',
  AUTH_002: '이 대기 토큰으로는 이 Job을 기다릴 수 없습니다.',
  NETWORK: '네트워크 연결을 확인한 뒤 다시 시도해주세요.',
  SVC_001: '지금은 요청이 많습니다. 잠시 후 다시 시도해주세요.',
  SVC_002: '저장소에 연결할 수 없습니다. 잠시 후 다시 시도해주세요.',
};

const app = window.jobwaitApp = window.jobwaitApp || {};
const params = new URLSearchParams(location.search);
const forced = TRANSPORT_LABEL[params.get('transport')] ? params.get('transport') : '';
const pageToken = takeToken();

const urlJobId = (params.get('jobId') || '').trim();

let info = { demo: false, waitBudgetMs: 30000, pollIntervalMs: 2000 };
const cur = {
  jobId: '', draftId: '', handle: null, startedAt: 0, clock: null, seq: 0,
};

// --- view -----------------------------------------------------------------

function show(state) {
  document.body.dataset.state = state;
  el.idle.hidden = state !== 'idle';
  el.waiting.hidden = state !== 'waiting';
  el.result.hidden = state !== 'completed';
  el.problem.hidden = state !== 'failed' && state !== 'error';
  el.timeout.hidden = state !== 'timeout';
}

// actions shows the buttons under a finished wait. "다시 분석" starts a new
// analysis, which only demo mode can do (without it the route does not
// exist): it is offered only there.
function actions(retry, keepWaiting) {
  retry = retry && info.demo;
  el.retry.hidden = !retry;
  el.retry.classList.toggle('primary', !keepWaiting);
  el.keepWaiting.hidden = !keepWaiting;
  el.actions.hidden = !retry && !keepWaiting;
}

function setText(node, text) {
  node.textContent = text == null ? '' : String(text);
}

function make(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text != null) n.textContent = String(text);
  return n;
}

function startClock(keep) {
  stopClock();
  if (!keep || !cur.startedAt) cur.startedAt = Date.now();
  const tick = function () {
    setText(el.elapsed, Math.floor((Date.now() - cur.startedAt) / 1000));
  };
  tick();
  cur.clock = setInterval(tick, 250);
}

function stopClock() {
  if (cur.clock !== null) clearInterval(cur.clock);
  cur.clock = null;
}

function setStatus(body) {
  // Until the first answer (a long poll only answers at the end) the
  // status is unknown, not PENDING.
  const s = (body && body.status) || '';
  el.status.dataset.status = s;
  setText(el.status, s ? STATUS_LABEL[s] || s : '확인 중');
  setText(el.message, (body && body.message) || 'AI가 분석 중입니다');
}

// takeToken returns the wait token the page was opened with (#token=, else
// ?token=; '' for none) and removes it from the address bar.
function takeToken() {
  const frag = new URLSearchParams(location.hash.replace(/^#/, ''));
  const tok = frag.get('token') || params.get('token') || '';
  if (frag.has('token') || params.has('token')) {
    frag.delete('token');
    params.delete('token');
    const q = params.toString();
    const h = frag.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + (h ? '#' + h : ''));
  }
  return tok;
}

function setURL(jobId) {
  const p = new URLSearchParams(location.search);
  p.set('jobId', jobId);
  history.replaceState(null, '', location.pathname + '?' + p.toString());
}

// --- waiting --------------------------------------------------------------

function watch(jobId, keepClock) {
  stop();
  cur.jobId = jobId;
  cur.seq++;
  setURL(jobId);
  el.jobInput.value = jobId;
  setText(el.jobLabel, jobId);
  setStatus(null);
  actions(false, false);
  show('waiting');
  startClock(keepClock);
  cur.handle = wait(jobId, {
    transports: forced ? [forced] : undefined,
    budgetMs: info.waitBudgetMs,
    onTransport: transport,
    onStatus: function (b) {
      if (b.eventDraftId) cur.draftId = b.eventDraftId;
      setStatus(b);
    },
    onCompleted: completed,
    onFailed: failed,
    onTimeout: timedOut,
    onError: problem,
    // The page's token is for the job it was opened for: another job
    // waited for here goes without one.
    token: pageToken && jobId === urlJobId ? function () { return pageToken; } : undefined,
  });
}

function stop() {
  if (cur.handle) cur.handle.cancel();
  cur.handle = null;
  stopClock();
}

function transport(name) {
  el.transport.hidden = false;
  el.transport.dataset.transport = name;
  setText(el.transport, TRANSPORT_LABEL[name] || name);
}

async function startAnalysis(draftId) {
  draftId = String(draftId || '').trim();
  if (!draftId) {
    el.draft.focus();
    return;
  }
  stop();
  const seq = ++cur.seq;
  cur.draftId = draftId;
  el.draft.value = draftId;
  el.start.disabled = true;
  el.retry.disabled = true;
  try {
    const res = await fetch('/api/events/' + encodeURIComponent(draftId) + '/ai-recommendations', {
      method: 'POST',
      headers: { Accept: 'application/json' },
    });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (seq !== cur.seq) return;
    if (!res.ok || !body || !body.jobId) {
      problem({
        code: (body && body.code) || 'HTTP_' + res.status,
        message: (body && body.message) || '분석을 시작할 수 없습니다',
        status: res.status,
      });
      return;
    }
    analyses.add(body.jobId, draftId);
    watch(body.jobId);
  } catch (e) {
    if (seq === cur.seq) problem({ code: 'NETWORK', message: '서버에 연결할 수 없습니다', status: 0 });
  } finally {
    el.start.disabled = false;
    el.retry.disabled = false;
  }
}

// --- outcomes ---------------------------------------------------------------

function completed(body) {
  stopClock();
  if (body.eventDraftId) cur.draftId = body.eventDraftId;
  const secs = Math.floor((Date.now() - cur.startedAt) / 1000);
  setText(el.doneText, '분석이 완료되었습니다' +
    (body.eventDraftId ? ' · ' + body.eventDraftId : '') + (secs > 0 ? ' · ' + secs + '초 기다림' : ''));
  renderCards(Array.isArray(body.recommendations) ? body.recommendations : []);
  renderTrend(body.trendAnalysis);
  actions(false, false);
  show('completed');
}

function failed(body) {
  stopClock();
  if (body.eventDraftId) cur.draftId = body.eventDraftId;
  setText(el.problemTitle, '분석에 실패했습니다');
  setText(el.error, body.error || 'AI 분석 실패');
  setText(el.hint, body.message || '다시 시도해주세요');
  actions(true, false);
  show('failed');
}

function timedOut(body) {
  stopClock();
  if (body && body.eventDraftId) cur.draftId = body.eventDraftId;
  const s = Math.max(1, Math.round((info.waitBudgetMs || 30000) / 1000));
  setText(el.timeoutText, s + '초 안에 결과가 나오지 않았습니다.');
  actions(true, true);
  show('timeout');
}

function problem(err) {
  stopClock();
  const code = err.code || '';
  setText(el.problemTitle, code === 'JOB_001' || code === 'JOB_002' ? '조회할 수 없습니다' : '문제가 생겼습니다');
  setText(el.error, err.message || '요청이 실패했습니다');
  setText(el.hint, ERROR_HINT[code] || (code ? '오류 코드 ' + code : ''));
  el.problem.dataset.code = code;
  // An unknown or malformed id has nothing to retry; the forms above start
  // over. Otherwise the demo starts a new analysis; without it, the job
  // can be waited for again.
  const canRetry = code !== 'JOB_001' && code !== 'JOB_002';
  actions(canRetry, canRetry && !info.demo && !!cur.jobId);
  show('error');
}

function retry() {
  if (info.demo) startAnalysis(cur.draftId || el.draft.value);
}

// --- rendering ----------------------------------------------------------

function renderCards(recs) {
  el.cards.textContent = '';
  setText(el.selection, recs.length ? '추천안을 눌러 선택하세요' : '추천안이 없습니다');
  recs.forEach(function (rec, i) {
    rec = rec && typeof rec === 'object' ? rec : { title: String(rec) };
    const card = make('article', 'card');
    card.tabIndex = 0;
    card.setAttribute('role', 'button');
    card.setAttribute('aria-pressed', 'false');
    card.dataset.index = String(i);
    const head = make('header', 'card-head');
    head.appendChild(make('span', 'rank', '추천 ' + (i + 1)));
    head.appendChild(make('h3', 'card-title', rec.title || '추천안 ' + (i + 1)));
    card.appendChild(head);
    const dl = make('dl', 'facts');
    const known = { title: true };
    CARD_FIELDS.forEach(function (f) {
      known[f[0]] = true;
      if (rec[f[0]] == null || rec[f[0]] === '') return;
      const row = make('div', 'fact fact-' + f[0]);
      row.appendChild(make('dt', null, f[1]));
      row.appendChild(make('dd', null, rec[f[0]]));
      dl.appendChild(row);
    });
    Object.keys(rec).forEach(function (k) {
      if (known[k]) return;
      const row = make('div', 'fact');
      row.appendChild(make('dt', null, label(k)));
      const dd = make('dd');
      dd.appendChild(renderValue(rec[k], 1));
      row.appendChild(dd);
      dl.appendChild(row);
    });
    card.appendChild(dl);
    const choose = function () { select(i, rec); };
    card.addEventListener('click', choose);
    card.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        choose();
      }
    });
    el.cards.appendChild(card);
  });
}

function select(index, rec) {
  Array.prototype.forEach.call(el.cards.children, function (c, i) {
    const on = i === index;
    c.classList.toggle('selected', on);
    c.setAttribute('aria-pressed', on ? 'true' : 'false');
  });
  setText(el.selection, '선택한 추천안: ' + (rec.title || '추천 ' + (index + 1)));
  el.selection.classList.add('chosen');
  if (typeof app.onSelect === 'function') app.onSelect(rec, index, cur.jobId);
  document.dispatchEvent(new CustomEvent('jobwait:select', {
    detail: { recommendation: rec, index: index, jobId: cur.jobId },
  }));
}

function renderTrend(t) {
  const box = el.trendBody;
  box.textContent = '';
  if (t == null || t === '') {
    box.appendChild(make('p', 'muted', '트렌드 분석 결과가 없습니다'));
    return;
  }
  if (typeof t !== 'object' || Array.isArray(t)) {
    box.appendChild(renderValue(t, 0));
    return;
  }
  if (t.summary != null) {
    box.appendChild(typeof t.summary === 'string'
      ? make('p', 'summary', t.summary)
      : renderValue(t.summary, 1));
  }
  if (Array.isArray(t.keywords) && t.keywords.length) {
    const kw = make('div', 'keywords');
    kw.appendChild(make('h3', null, '키워드'));
    kw.appendChild(chips(t.keywords));
    box.appendChild(kw);
  }
  const rest = {};
  let any = false;
  Object.keys(t).forEach(function (k) {
    if (k === 'summary' || (k === 'keywords' && Array.isArray(t.keywords))) return;
    rest[k] = t[k];
    any = true;
  });
  if (any) box.appendChild(renderValue(rest, 0));
}

function chips(list) {
  const ul = make('ul', 'chips');
  list.forEach(function (v) {
    ul.appendChild(make('li', 'chip', isPlain(v) ? text(v) : JSON.stringify(v)));
  });
  return ul;
}

function isPlain(v) {
  return v === null || (typeof v !== 'object' && typeof v !== 'function');
}

function text(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (v === true) return '예';
  if (v === false) return '아니오';
  if (typeof v === 'number') return v.toLocaleString('ko-KR');
  return String(v);
}

// renderValue shows any JSON value: objects as definition lists, short
// lists of words as chips, other lists as lists; nesting is indented.
function renderValue(v, depth) {
  if (isPlain(v)) return make('span', 'val', text(v));
  if (depth > 6) return make('code', 'val', JSON.stringify(v));
  if (Array.isArray(v)) {
    if (v.length === 0) return make('span', 'val muted', '없음');
    const short = v.every(function (x) { return isPlain(x) && String(x).length <= 24; });
    if (short) return chips(v);
    const cols = columns(v);
    if (cols) return table(v, cols);
    const ul = make('ul', 'list');
    v.forEach(function (x) {
      const li = make('li');
      li.appendChild(renderValue(x, depth + 1));
      ul.appendChild(li);
    });
    return ul;
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return make('span', 'val muted', '없음');
  const dl = make('dl', 'kv');
  keys.forEach(function (k) {
    const row = make('div', 'kv-row');
    row.appendChild(make('dt', null, label(k)));
    const dd = make('dd');
    dd.appendChild(renderValue(v[k], depth + 1));
    row.appendChild(dd);
    dl.appendChild(row);
  });
  return dl;
}

// columns returns the keys of a list of flat objects, so that it can be
// shown as a table; null when the list is not like that.
function columns(list) {
  const cols = [];
  const seen = {};
  for (let i = 0; i < list.length; i++) {
    const row = list[i];
    if (!row || typeof row !== 'object' || Array.isArray(row)) return null;
    for (const k of Object.keys(row)) {
      if (!isPlain(row[k])) return null;
      if (!seen[k]) {
        seen[k] = true;
        cols.push(k);
      }
    }
  }
  return cols.length > 0 && cols.length <= 6 ? cols : null;
}

function table(list, cols) {
  const wrap = make('div', 'table-wrap');
  const t = make('table', 'table');
  const head = make('tr');
  const num = {};
  cols.forEach(function (c) {
    num[c] = list.every(function (r) { return r[c] == null || typeof r[c] === 'number'; });
    head.appendChild(make('th', num[c] ? 'num' : null, label(c)));
  });
  t.appendChild(make('thead')).appendChild(head);
  const tbody = make('tbody');
  list.forEach(function (row) {
    const tr = make('tr');
    cols.forEach(function (c) {
      tr.appendChild(make('td', num[c] ? 'num' : null, text(row[c])));
    });
    tbody.appendChild(tr);
  });
  t.appendChild(tbody);
  wrap.appendChild(t);
  return wrap;
}

function label(key) {
  if (KEY_LABEL[key]) return KEY_LABEL[key];
  const words = String(key)
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : key;
}

// --- start ----------------------------------------------------------------

el.demo.addEventListener('submit', function (e) {
  e.preventDefault();
  startAnalysis(el.draft.value);
});
el.watch.addEventListener('submit', function (e) {
  e.preventDefault();
  const id = el.jobInput.value.trim();
  if (id) watch(id);
  else el.jobInput.focus();
});
el.retry.addEventListener('click', retry);
el.keepWaiting.addEventListener('click', function () {
  if (cur.jobId) watch(cur.jobId, true);
});
window.addEventListener('pagehide', stop);

async function loadInfo() {
  try {
    const res = await fetch('/api/info', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (res.ok) info = Object.assign(info, await res.json());
  } catch (e) {
    // Without /api/info the page still watches jobs; it just offers no demo.
  }
  el.demo.hidden = !info.demo;
}

show('idle');
loadInfo().then(function () {
  if (urlJobId) watch(urlJobId);
  else if (info.demo) el.draft.focus();
});
