// Our kinds as a cache or a GET hands them over: checked by the API server
// against the CRD, but not by us (parseResource does that, with defaults and
// rules), so the spec's fields may be missing. Read what you need of them;
// parse before you rely on the spec as a whole.
import type { KubeObject } from './meta.ts';
import type {
  BrowserPoolSpec,
  BrowserPoolStatus,
  TestRunSpec,
  TestRunStatus,
  TunnelSpec,
  TunnelStatus,
} from './v1alpha1/index.ts';

export interface BrowserPoolObject extends KubeObject {
  spec?: Partial<BrowserPoolSpec>;
  status?: BrowserPoolStatus;
}

export interface TestRunObject extends KubeObject {
  spec?: Partial<TestRunSpec>;
  status?: TestRunStatus;
}

export interface TunnelObject extends KubeObject {
  spec?: Partial<TunnelSpec>;
  status?: TunnelStatus;
}

/** The phases a TestRun, or one of its shards, ends in: none of them changes again. */
export const FINISHED_PHASES: readonly string[] = ['Succeeded', 'Failed', 'Error'];

export const isFinishedPhase = (phase: string | undefined): boolean => FINISHED_PHASES.includes(phase ?? '');

/** A TestRun that has reached Succeeded, Failed or Error. */
export const isFinished = (run: { status?: { phase?: string } }): boolean => isFinishedPhase(run.status?.phase);
