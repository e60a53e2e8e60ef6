// Type declarations of @jobwait/client (jobwait.js, an ES module):
// `import { wait, waitMany, isTerminal } from '@jobwait/client'`. Checked
// with `tsc --noEmit --strict` against a typed use and misuses of the
// installed package by TestTypeDeclarations (web/types_test.go).

/** A job still running: PENDING or PROCESSING. */
export interface Waiting {
  jobId: string;
  status: 'PENDING' | 'PROCESSING';
  message: string;
  /** Present, and true, when the wait ended before the job did. */
  timedOut?: true;
}

export interface Recommendation {
  title: string;
  prize: string;
  method: string;
  cost: string;
  roi: string;
}

export interface Completed {
  jobId: string;
  status: 'COMPLETED';
  eventDraftId: string;
  /** Passed through as the producer wrote it. */
  trendAnalysis: unknown;
  recommendations: Recommendation[];
}

export interface Failed {
  jobId: string;
  status: 'FAILED';
  /** job:{id}:error, or "AI 분석 실패". */
  error: string;
  message: string;
}

/** Any job body of a status answer or stream event. */
export type JobBody = Waiting | Completed | Failed;

/** Why a job could not be waited for. */
export interface WaitError {
  /**
   * The server's code (JOB_001, JOB_002, JOB_003, REQ_001, SVC_001, SVC_002,
   * AUTH_001, AUTH_002, …), NETWORK, TOKEN (the token provider threw or
   * rejected), UNSUPPORTED or HTTP_<status>.
   */
  code: string;
  message: string;
  /** The HTTP status, 0 when none (network, token provider). */
  status: number;
}

export type Transport = 'sse' | 'longpoll' | 'poll';

/**
 * Provides the signed wait token the server asks for (`JOBWAIT_AUTH`), as a
 * string or a promise of one; '' sends none. Asked once when the wait first
 * needs a token, and once more after each `401 AUTH_001` answer or
 * `problem` AUTH_001 event (an expired token) before the request or stream
 * is made again; an AUTH_001 answered to that fresh token ends the wait
 * with onError. Sent as `Authorization: Bearer <token>` on requests and as
 * `?access_token=<token>` on stream URLs, which EventSource cannot give
 * headers.
 */
export type TokenProvider = () => string | Promise<string>;

/** An EventSource constructor: the browser's, or one from npm (eventsource) in Node. */
export interface EventSourceConstructor {
  new (url: string): EventSourceLike;
}

/** What the client uses of an EventSource. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: any) => any) | null;
  onerror: ((ev: any) => any) | null;
  addEventListener(type: string, listener: (ev: { data: string; lastEventId: string }) => void): void;
  close(): void;
}

export interface CommonOptions {
  /** Where jobwait is, e.g. 'https://jobwait.example.com'; '' (default): the page's origin. Required outside a page (Node): wait and waitMany throw without it. */
  baseUrl?: string;
  /** The transports to use, best first; default all: ['sse', 'longpoll', 'poll']. */
  transports?: Transport[];
  /** The one deadline of the wait, in ms from the call, across every transport; default 30000. */
  budgetMs?: number;
  /** The signed wait token, when the server requires or accepts one. */
  token?: TokenProvider;
  /** The EventSource to stream with; default the global one. Without either, the wait starts on long poll. */
  EventSource?: EventSourceConstructor;
  /** The transport in use, on each change. */
  onTransport?(name: Transport): void;
}

/** Options of wait: exactly one of onCompleted, onFailed, onTimeout, onError is called, once. */
export interface WaitOptions extends CommonOptions {
  onStatus?(body: Waiting): void;
  onCompleted?(body: Completed): void;
  onFailed?(body: Failed): void;
  onTimeout?(body: Waiting): void;
  onError?(err: WaitError): void;
}

/** Options of waitMany: per job, exactly one of onCompleted, onFailed, onTimeout, onError is called, once. */
export interface WaitManyOptions extends CommonOptions {
  onStatus?(body: Waiting, jobId: string): void;
  onCompleted?(body: Completed, jobId: string): void;
  onFailed?(body: Failed, jobId: string): void;
  onTimeout?(body: Waiting, jobId: string): void;
  onError?(err: WaitError, jobId: string): void;
  /** Every job has ended. */
  onDone?(): void;
}

/** A wait in progress. */
export interface Handle {
  /** Ends the wait: closes its stream or aborts its request; no callback runs after it. */
  cancel(): void;
}

/** Waits for one job. */
export function wait(jobId: string, opts?: WaitOptions): Handle;
/** Waits for many jobs on one connection (at most the server's JOBWAIT_MAX_IDS, 50 by default); duplicates are waited for once. */
export function waitMany(jobIds: readonly string[], opts?: WaitManyOptions): Handle;
/** Whether a body is final: COMPLETED or FAILED. */
export function isTerminal(body: JobBody | null | undefined): boolean;
