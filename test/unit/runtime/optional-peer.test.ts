import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { importPeer } from '../../../src/runtime/optional-peer.js';

describe('optional peers', () => {
  it('names the package to install when it is missing', async () => {
    await expect(importPeer('modelhost-no-such-package', 'The zork runtime', 'modelhost-no-such-package zork-extra')).rejects.toMatchObject({
      code: ErrorCode.UNSUPPORTED_MODEL,
      message: "The zork runtime needs the package 'modelhost-no-such-package', which is not installed. Install it: npm install modelhost-no-such-package zork-extra",
    });
  });

  it('imports a present package once', async () => {
    const a = await importPeer('eventemitter3', 'x');
    expect(await importPeer('eventemitter3', 'x')).toBe(a);
  });
});
