import { describe, expect, it } from 'vitest';
import { disablePretenuring, PRETENURING_FLAG } from '../../../src/cli/v8-flags.js';

describe('disablePretenuring (modelhost serve)', () => {
  it("keeps a pretenuring flag node was started with (the operator's choice)", () => {
    expect(disablePretenuring(['--allocation-site-pretenuring'])).toBe(false);
    expect(disablePretenuring(['--max-old-space-size=512', '--no-allocation-site-pretenuring'])).toBe(false);
  });

  it('turns pretenuring off otherwise', () => {
    expect(PRETENURING_FLAG).toBe('--no-allocation-site-pretenuring');
    expect(disablePretenuring([])).toBe(true);
    expect(disablePretenuring(['--max-old-space-size=512', '--enable-source-maps'])).toBe(true);
  });
});
