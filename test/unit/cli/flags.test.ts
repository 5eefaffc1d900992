import { describe, expect, it } from 'vitest';
import { describeFlags, integer, list, oneOf, parseCommandLine, positive, switchFlag, text, UsageError, type FlagTable } from '../../../src/cli/flags.js';

const FLAGS = {
  port: { value: '<n>', help: 'port', default: '8080', parse: integer('a port number', 0, 65535) },
  timeout: { value: '<ms>', help: 'deadline', parse: positive('a positive number of ms') },
  models: { value: '<a,b>', help: 'models', parse: list },
  token: { value: '<t>', help: 'admin token', env: 'TOKEN_FOR_TEST', parse: text },
  'body-limit': { value: '<bytes>', help: 'largest body\nsecond line', parse: integer('a positive number of bytes', 1) },
  instances: { value: '<kind>', help: 'kind', parse: oneOf(['auto', 'thread', 'inline']) },
  help: switchFlag('show this help', 'h'),
} satisfies FlagTable;

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine(FLAGS, argv, env);
const refusal = (argv: string[]) => {
  try {
    parse(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
};

describe('parseCommandLine', () => {
  it('gives typed values, defaults, environment variables and positionals', () => {
    const { values, positionals } = parse(['serve', 'models', '--timeout', '2.5', '--models=a, b,,c', '-h', '--instances', 'thread'], { TOKEN_FOR_TEST: 's3cret' });
    expect(positionals).toEqual(['serve', 'models']);
    expect(values).toEqual({ port: 8080, timeout: 2.5, models: ['a', 'b', 'c'], token: 's3cret', instances: 'thread', help: true });
  });

  it('prefers the flag to its environment variable, and leaves absent flags undefined', () => {
    const { values } = parse(['--token', 'flag', '--port', '0'], { TOKEN_FOR_TEST: 'env' });
    expect(values).toEqual({ port: 0, token: 'flag' });
  });

  it.each([
    [['--prot', '1'], "unknown option '--prot' (did you mean --port?)"],
    [['--timout=1'], "unknown option '--timout' (did you mean --timeout?)"],
    [['--body'], "unknown option '--body' (did you mean --body-limit?)"],
    [['--frobnicate'], "unknown option '--frobnicate'"],
    [['-x'], "unknown option '-x'"],
    [['--port'], '--port needs a value <n>'],
    [['--help=1'], '--help takes no value, got 1'],
    [['--port', '65536'], '--port must be a port number, got 65536'],
    [['--port', ''], '--port must be a port number, got '],
    [['--timeout', '-1'], '--timeout must be a positive number of ms, got -1'],
    [['--timeout', 'Infinity'], '--timeout must be a positive number of ms, got Infinity'],
    [['--body-limit', '0x10'], '--body-limit must be a positive number of bytes, got 0x10'],
    [['--instances', 'gpu'], '--instances must be auto, thread or inline, got gpu'],
  ])('refuses %j: %s', (argv, message) => {
    expect(refusal(argv)).toBe(message);
  });
});

describe('describeFlags', () => {
  it('lists every flag with its value, short form, help lines and environment variable, aligned', () => {
    expect(describeFlags(FLAGS)).toBe(
      [
        '  --port <n>            port',
        '  --timeout <ms>        deadline',
        '  --models <a,b>        models',
        '  --token <t>           admin token',
        '                        (also read from TOKEN_FOR_TEST)',
        '  --body-limit <bytes>  largest body',
        '                        second line',
        '  --instances <kind>    kind',
        '  -h, --help            show this help',
      ].join('\n'),
    );
  });
});
