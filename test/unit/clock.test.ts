import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/machine/clock.js';

describe('Clock', () => {
  it('fires events in (time, sequence) order', () => {
    const c = new Clock();
    const seen: string[] = [];
    c.schedule(20, 'b', () => seen.push('b'));
    c.schedule(10, 'a', () => seen.push('a'));
    c.schedule(20, 'c', () => seen.push('c'));
    c.advanceTo(100);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(c.now()).toBe(100);
  });
});
