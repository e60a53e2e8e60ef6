/*
 * history.js — the page's list of every analysis this browser started
 * ("내 분석"), kept in localStorage, each with its state. The jobs still
 * running are waited for together with waitMany: one connection for the
 * whole list, however long it is.
 *
 * add(jobId, draftId) lists a new analysis (app.js calls it when it starts
 * one); hooks for tests: #history li[data-job-id][data-state].
 */
import { waitMany } from './client/jobwait.js';

const KEY = 'jobwait.analyses';
const MAX = 20; // the most analyses listed
const KEEP_MS = 60 * 60 * 1000; // jobs live one hour in Redis
const LABEL = {
  waiting: '확인 중', PENDING: '대기 중', PROCESSING: '분석 중', COMPLETED: '완료', FAILED: '실패',
  timeout: '시간 초과', gone: '만료', error: '오류',
};
const FINAL = { COMPLETED: true, FAILED: true, gone: true, error: true };

const box = document.getElementById('history');
const list = document.getElementById('history-list');
let handle = null;

function load() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(v) ? v.filter(function (a) { return a && typeof a.jobId === 'string'; }) : [];
  } catch (e) {
    return [];
  }
}

function save(items) {
  try {
    localStorage.setItem(KEY, JSON.stringify(items.slice(0, MAX)));
  } catch (e) {
    // Private mode or full storage: the list lives as long as the page.
  }
}

function fresh(items) {
  const now = Date.now();
  return items.filter(function (a) { return now - (a.startedAt || 0) < KEEP_MS; });
}

function setState(jobId, state) {
  const items = load();
  items.forEach(function (a) { if (a.jobId === jobId) a.state = state; });
  save(items);
  render(items);
}

function render(items) {
  list.textContent = '';
  box.hidden = items.length === 0;
  items.forEach(function (a) {
    const li = document.createElement('li');
    li.dataset.jobId = a.jobId;
    li.dataset.state = a.state || 'waiting';
    const link = document.createElement('a');
    link.href = '?jobId=' + encodeURIComponent(a.jobId);
    link.textContent = a.draftId || a.jobId;
    const code = document.createElement('code');
    code.textContent = a.jobId;
    const pill = document.createElement('span');
    pill.className = 'pill';
    pill.dataset.status = a.state || '';
    pill.textContent = LABEL[a.state || 'waiting'] || a.state;
    li.append(link, ' ', code, ' ', pill);
    list.appendChild(li);
  });
}

// watchAll waits, on one connection, for every listed analysis that has
// not ended.
function watchAll() {
  if (handle) handle.cancel();
  handle = null;
  const items = fresh(load());
  save(items);
  render(items);
  const ids = items.filter(function (a) { return !FINAL[a.state]; }).map(function (a) { return a.jobId; });
  if (ids.length === 0) return;
  handle = waitMany(ids, {
    onStatus: function (b, id) { setState(id, b.status); },
    onCompleted: function (b, id) { setState(id, 'COMPLETED'); },
    onFailed: function (b, id) { setState(id, 'FAILED'); },
    onTimeout: function (b, id) { setState(id, 'timeout'); },
    onError: function (err, id) { setState(id, err.code === 'JOB_001' ? 'gone' : 'error'); },
    onDone: function () { handle = null; },
  });
}

/** add lists a new analysis, newest first, and waits for it with the rest. */
export function add(jobId, draftId) {
  const items = load().filter(function (a) { return a.jobId !== jobId; });
  items.unshift({ jobId: String(jobId), draftId: String(draftId || ''), startedAt: Date.now(), state: 'PENDING' });
  save(items);
  watchAll();
}

window.addEventListener('pagehide', function () { if (handle) handle.cancel(); });
watchAll();
