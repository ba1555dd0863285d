/** The CLI maps errors to exit codes by type (cli/errors.ts), never by message. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError, errorLine, exitCodeOf, InputError, UsageError } from '../../cli/errors.ts';

test('exit codes come from the error type: usage and input 2, anything else 1', () => {
  assert.equal(exitCodeOf(new UsageError('--x must be y')), 2);
  assert.equal(exitCodeOf(new InputError('m.mflm: checksum mismatch')), 2);
  assert.equal(exitCodeOf(new CliError('custom', 3)), 3);
  // Messages that the old regex mapped to 2 are failures (1) unless their type says otherwise.
  assert.equal(exitCodeOf(new Error('cannot read model file x: ENOENT')), 1);
  assert.equal(exitCodeOf(new Error('x: bad header length')), 1);
  assert.equal(exitCodeOf('a string'), 1);
  assert.ok(new UsageError('u') instanceof CliError && new InputError('i') instanceof CliError);
  assert.equal(new UsageError('u').name, 'UsageError');
  assert.equal(new InputError('i').name, 'InputError');
});

test('one line per error: usage messages as they are, others prefixed with the command', () => {
  assert.equal(errorLine('simulate', new UsageError('--workers must be an integer')), '--workers must be an integer');
  assert.equal(
    errorLine('train', new InputError('m.mflm: too short (3 bytes)')),
    'meshfl train: m.mflm: too short (3 bytes)',
  );
  assert.equal(errorLine('daemon', new Error('boom')), 'meshfl daemon: boom');
  assert.equal(errorLine('train', 'not an Error'), 'meshfl train: not an Error');
});
