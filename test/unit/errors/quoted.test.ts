import { describe, expect, it } from 'vitest';
import { quoted, show } from '../../../src/errors/option-checks.js';

// A client's text in an error message (and so in log lines) shows every character it holds:
// nothing that starts a new line, reorders the line (bidi overrides) or hides (zero-width).
describe('quoted and show escape invisible characters', () => {
  const cases: [string, string, string][] = [
    ['a line separator', 'a\u2028b', '"a\\u2028b"'],
    ['a paragraph separator', 'a\u2029b', '"a\\u2029b"'],
    ['a right-to-left override', 'x\u202Eevil', '"x\\u202eevil"'],
    ['a zero-width space', 'a\u200Bb', '"a\\u200bb"'],
    ['a C1 control (NEL)', 'a\u0085b', '"a\\u0085b"'],
    ['DEL', 'a\u007fb', '"a\\u007fb"'],
    ['a format character past the BMP (a tag)', '\u{E0001}t', '"\\udb40\\udc01t"'],
    ['a C0 control (JSON escapes it already)', 'a\nb', '"a\\nb"'],
  ];
  for (const [label, text, expected] of cases) {
    it(`${label}: escaped, and the quote still parses back to the text`, () => {
      expect(quoted(text)).toBe(expected);
      expect(JSON.parse(quoted(text))).toBe(text);
    });
  }

  it('visible text stays as it is (accents, emoji, </script>)', () => {
    for (const text of ['é ok', 'naïve 😀', '</script>']) expect(quoted(text)).toBe(JSON.stringify(text));
  });

  it('show escapes them inside a value too', () => {
    expect(show({ id: 'x\u2028y' })).toBe('{"id":"x\\u2028y"}');
  });
});
