import type { z } from 'zod';
import { resourceSchema } from '../kind.ts';
import { BrowserPoolKind } from './browserpool.ts';
import { TestRunKind } from './testrun.ts';
import { TunnelKind } from './tunnel.ts';

export * from './browserpool.ts';
export * from './common.ts';
export * from './testrun.ts';
export * from './tunnel.ts';

export const BrowserPoolResource = resourceSchema(BrowserPoolKind);
export const TestRunResource = resourceSchema(TestRunKind);
export const TunnelResource = resourceSchema(TunnelKind);

export type BrowserPool = z.infer<typeof BrowserPoolResource>;
export type TestRun = z.infer<typeof TestRunResource>;
export type Tunnel = z.infer<typeof TunnelResource>;

/** The kinds this version serves, in the order their CRDs are written. */
export const kinds = [BrowserPoolKind, TestRunKind, TunnelKind] as const;
