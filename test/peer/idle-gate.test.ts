/**
 * IdleGate: a wait gives up only when every running peer waits, the longest-waiting first,
 * one per idle turn; a peer that ended its rounds no longer holds anyone's wait open.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleGate } from '../../src/peer/idle-gate.ts';

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

test('a wait gives up only when every running peer waits, longest-waiting first', async () => {
  const gate = new IdleGate();
  const gaveUp: string[] = [];
  gate.start('a');
  gate.start('b');
  gate.start('c');
  const releaseA = gate.wait('a', () => gaveUp.push('a'));
  gate.wait('b', () => gaveUp.push('b'));
  await turn();
  await turn();
  assert.deepEqual([...gaveUp], [], 'c is running: a and b wait for it');
  gate.wait('c', () => gaveUp.push('c'));
  await turn();
  await turn();
  assert.deepEqual([...gaveUp], ['a'], 'everyone waits: the longest-waiting gives up, one per turn');
  releaseA(); // a's wait already ended: releasing it again changes nothing
  // a runs again (its wait closed): b and c keep waiting.
  await turn();
  await turn();
  assert.deepEqual([...gaveUp], ['a']);
  gate.end('a'); // a ended its rounds: b and c wait for nobody
  await turn();
  await turn();
  assert.deepEqual([...gaveUp], ['a', 'b']);
  assert.equal(gate.gaveUp, 2);
  gate.close();
});

test('a released wait no longer counts as waiting', async () => {
  const gate = new IdleGate();
  const gaveUp: string[] = [];
  gate.start('a');
  gate.start('b');
  const releaseA = gate.wait('a', () => gaveUp.push('a'));
  releaseA(); // a's update came: it is running again
  gate.wait('b', () => gaveUp.push('b'));
  await turn();
  await turn();
  assert.deepEqual([...gaveUp], []);
  gate.close();
});
