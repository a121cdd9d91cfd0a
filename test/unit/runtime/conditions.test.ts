import { describe, expect, it } from 'vitest';
import { type Condition, isConditionTrue, removeCondition, setCondition } from '../../../src/runtime/conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T00:05:00Z');

describe('setCondition', () => {
  it('adds a new condition with the current time as lastTransitionTime (whole seconds)', () => {
    const conditions = setCondition(undefined, {
      type: 'Ready', status: 'False', reason: 'Starting', message: 'no browser yet', observedGeneration: 1,
    }, t0);
    expect(conditions).toEqual([{
      type: 'Ready', status: 'False', reason: 'Starting', message: 'no browser yet', observedGeneration: 1,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    }]);
  });

  it('keeps lastTransitionTime when the status stays, but takes the new reason, message and generation', () => {
    const before = setCondition([], { type: 'Ready', status: 'False', reason: 'Starting', message: 'a', observedGeneration: 1 }, t0);
    const after = setCondition(before, { type: 'Ready', status: 'False', reason: 'Pulling', message: 'b', observedGeneration: 2 }, t1);
    expect(after[0]).toEqual({
      type: 'Ready', status: 'False', reason: 'Pulling', message: 'b', observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const before = setCondition([], { type: 'Ready', status: 'False', reason: 'Starting', message: '' }, t0);
    const after = setCondition(before, { type: 'Ready', status: 'True', reason: 'Ready', message: '' }, t1);
    expect(after[0]?.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
    expect(isConditionTrue(after, 'Ready')).toBe(true);
  });

  it('leaves other conditions and the input array alone', () => {
    const degraded: Condition = {
      type: 'Degraded', status: 'False', reason: 'AsExpected', message: '', lastTransitionTime: '2025-12-31T00:00:00Z',
    };
    const input = Object.freeze([degraded]);
    const out = setCondition(input, { type: 'Ready', status: 'True', reason: 'Ready', message: '' }, t1);
    expect(out.map((c) => c.type)).toEqual(['Degraded', 'Ready']);
    expect(out[0]).toBe(degraded);
    expect(input).toHaveLength(1);
    expect(removeCondition(out, 'Degraded').map((c) => c.type)).toEqual(['Ready']);
  });
});
