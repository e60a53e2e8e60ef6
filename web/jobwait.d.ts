// Type declarations for jobwait.js: window.jobwait in a page, or
// require('./jobwait.js'). Checked with `tsc --noEmit` against
// testdata/usage.ts by TestTypeDeclarations.

declare namespace jobwait {
  /** A job still running: PENDING or PROCESSING. */
  interface Waiting {
    jobId: string;
    status: 'PENDING' | 'PROCESSING';
    message: string;
    /** Present, and true, when the wait ended before the job did. */
    timedOut?: true;
  }

  interface Recommendation {
    title: string;
    prize: string;
    method: string;
    cost: string;
    roi: string;
  }

  interface Completed {
    jobId: string;
    status: 'COMPLETED';
    eventDraftId: string;
    /** Passed through as the producer wrote it. */
    trendAnalysis: unknown;
    recommendations: Recommendation[];
  }

  interface Failed {
    jobId: string;
    status: 'FAILED';
    /** job:{id}:error, or "AI 분석 실패". */
    error: string;
    message: string;
  }

  /** Any job body of a status answer or stream event. */
  type JobBody = Waiting | Completed | Failed;

  /** Why a job could not be waited for. */
  interface WaitError {
    /** The server's code (JOB_001, JOB_002, JOB_003, REQ_001, SVC_001, SVC_002, …), NETWORK, UNSUPPORTED or HTTP_<status>. */
    code: string;
    message: string;
    /** The HTTP status, 0 when none (network). */
    status: number;
  }

  type Transport = 'sse' | 'longpoll' | 'poll';

  interface CommonOptions {
    /** Where jobwait is, e.g. 'https://jobwait.example.com'; '' (default): this page's origin. */
    baseUrl?: string;
    /** The transports to use, best first; default all: ['sse', 'longpoll', 'poll']. */
    transports?: Transport[];
    /** The one deadline of the wait, in ms from the call, across every transport; default 30000. */
    budgetMs?: number;
    /** The transport in use, on each change. */
    onTransport?(name: Transport): void;
  }

  /** Options of wait: exactly one of onCompleted, onFailed, onTimeout, onError is called, once. */
  interface WaitOptions extends CommonOptions {
    onStatus?(body: Waiting): void;
    onCompleted?(body: Completed): void;
    onFailed?(body: Failed): void;
    onTimeout?(body: Waiting): void;
    onError?(err: WaitError): void;
  }

  /** Options of waitMany: per job, exactly one of onCompleted, onFailed, onTimeout, onError is called, once. */
  interface WaitManyOptions extends CommonOptions {
    onStatus?(body: Waiting, jobId: string): void;
    onCompleted?(body: Completed, jobId: string): void;
    onFailed?(body: Failed, jobId: string): void;
    onTimeout?(body: Waiting, jobId: string): void;
    onError?(err: WaitError, jobId: string): void;
    /** Every job has ended. */
    onDone?(): void;
  }

  /** A wait in progress. */
  interface Handle {
    /** Ends the wait: closes its stream or aborts its request; no callback runs after it. */
    cancel(): void;
  }

  /** Waits for one job. */
  function wait(jobId: string, opts?: WaitOptions): Handle;
  /** Waits for many jobs on one connection (at most the server's JOBWAIT_MAX_IDS, 50 by default); duplicates are waited for once. */
  function waitMany(jobIds: readonly string[], opts?: WaitManyOptions): Handle;
  /** Whether a body is final: COMPLETED or FAILED. */
  function isTerminal(body: JobBody | null | undefined): boolean;
}

export = jobwait;
export as namespace jobwait;
