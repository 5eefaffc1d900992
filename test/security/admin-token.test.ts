import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bearerTokenAuthorizer, readAdminToken } from '../../src/cli/admin-token.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const TOKEN = 'k3Yq9-Zr2mW8xT4vP6nB';

describe('readAdminToken', () => {
  it('reads the token from a file (trimming the newline echo leaves), else from MODELHOST_ADMIN_TOKEN, else none', async () => {
    const file = path.join(await tempDir(), 'token');
    await writeFile(file, `${TOKEN}\n`);
    expect(readAdminToken(file, {})).toBe(TOKEN);
    expect(readAdminToken(file, { MODELHOST_ADMIN_TOKEN: 'another-token-from-env' })).toBe(TOKEN);
    expect(readAdminToken(undefined, { MODELHOST_ADMIN_TOKEN: TOKEN })).toBe(TOKEN);
    expect(readAdminToken(undefined, {})).toBeUndefined();
  });

  it.each([
    ['a short token', 'short', /must be at least 16 characters, got 5/],
    ['an empty file', '\n', /must be at least 16 characters, got 0/],
    ['a token with a space inside', 'sixteen chars and more', /must be one word/],
  ])('refuses %s', async (_title, content, message) => {
    const file = path.join(await tempDir(), 'token');
    await writeFile(file, content);
    expect(() => readAdminToken(file, {})).toThrow(message);
  });

  it('names a token file that cannot be read', () => {
    expect(() => readAdminToken('/nonexistent/token', {})).toThrow(/--admin-token-file \/nonexistent\/token could not be read/);
  });
});

describe('bearerTokenAuthorizer', () => {
  const authorize = bearerTokenAuthorizer(TOKEN);
  const withHeader = (authorization?: string | string[]) => authorize({ headers: authorization === undefined ? {} : { authorization } });

  it('accepts exactly "Bearer <token>" (the scheme in any case)', () => {
    expect(withHeader(`Bearer ${TOKEN}`)).toBe(true);
    expect(withHeader(`bearer ${TOKEN}`)).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['another token', 'Bearer k3Yq9-Zr2mW8xT4vP6nC'],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token and more', `Bearer ${TOKEN}x`],
    ['the token alone', TOKEN],
    ['Basic credentials', `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`],
    ['an array', [`Bearer ${TOKEN}`]],
  ])('refuses %s with 401', (_title, header) => {
    expect(withHeader(header as string | undefined)).toBe(401);
  });
});
