/**
 * The behaviour every `Gossip` implementation must show, written once; each
 * `<impl>.test.ts` runs it against one implementation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FetchError } from '../../src/net/errors.ts';
import type { Verdict } from '../../src/net/gossip.ts';
import type { Cluster, Implementation } from './harness.ts';
import { eventually, pattern, recorder } from './harness.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export function gossipBehaviour(impl: Implementation): void {
  describe(`Gossip behaviour: ${impl.name}`, () => {
    let c: Cluster;
    before(async () => {
      c = await impl.cluster(4);
    });
    after(async () => {
      await c?.stop();
    });

    test('publish reaches every other subscriber, not the publisher', async () => {
      const [a, b, d, e] = c.gossips;
      const rec = [a, b, d, e].map(() => recorder());
      const offs = [a, b, d, e].map((g, i) => g.subscribe('basic', rec[i].handler));
      await c.ready('basic');
      const res = await a.publish('basic', enc('hello'));
      assert.ok(res.recipients >= 1, `recipients ${res.recipients}`);
      await eventually(() => rec.slice(1).every((r) => r.messages.length === 1), 'delivery to b, d, e');
      for (const r of rec.slice(1)) {
        assert.equal(r.messages[0].from, a.id);
        assert.equal(r.messages[0].topic, 'basic');
        assert.equal(dec(r.messages[0].data), 'hello');
      }
      // a later message from b proves a had time to (wrongly) see its own
      await b.publish('basic', enc('second'));
      await eventually(() => rec[0].messages.length === 1, 'delivery of b to a');
      assert.equal(dec(rec[0].messages[0].data), 'second');
      assert.ok(
        rec[0].messages.every((m) => m.from !== a.id),
        'publisher got its own message',
      );
      for (const off of offs) off();
    });

    test('a rejected message never reaches handlers and lowers the sender score', async () => {
      const [a, b, d] = c.gossips;
      const seen = recorder();
      const validated: string[] = [];
      const validate = (m: { data: Uint8Array }): Verdict => {
        const text = dec(m.data);
        validated.push(text);
        return text.startsWith('bad') ? 'reject' : 'accept';
      };
      const offB = b.subscribe('judged', seen.handler, validate);
      const other = recorder();
      const offD = d.subscribe('judged', other.handler);
      const offA = a.subscribe('judged', () => {});
      await c.ready('judged');
      assert.ok(b.score(a.id) >= 0, `score before ${b.score(a.id)}`);
      await a.publish('judged', enc('bad update'));
      await a.publish('judged', enc('good update'));
      await eventually(() => seen.messages.length === 1 && other.messages.length === 2, 'good update delivered');
      assert.deepEqual(
        seen.messages.map((m) => dec(m.data)),
        ['good update'],
      );
      assert.ok(validated.includes('bad update'), 'validator saw the bad update');
      await eventually(() => b.score(a.id) < 0, `score of sender to drop (now ${b.score(a.id)})`);
      offA();
      offB();
      offD();
    });

    test("'ignore' drops without delivery; a throwing validator counts as ignore", async () => {
      const [a, b] = c.gossips;
      const seen = recorder();
      const off1 = b.subscribe('ignored', seen.handler, (m) => (dec(m.data) === 'skip' ? 'ignore' : 'accept'));
      const off2 = b.subscribe(
        'ignored',
        () => {},
        (m) => {
          if (dec(m.data) === 'boom') throw new Error('validator bug');
          return 'accept';
        },
      );
      const offA = a.subscribe('ignored', () => {});
      await c.ready('ignored');
      await a.publish('ignored', enc('skip'));
      await a.publish('ignored', enc('boom'));
      await a.publish('ignored', enc('keep'));
      await eventually(() => seen.messages.length >= 1, 'keep delivered');
      assert.deepEqual(
        seen.messages.map((m) => dec(m.data)),
        ['keep'],
      );
      off1();
      off2();
      offA();
    });

    test('a 6 MB payload arrives byte-identical', async () => {
      const [a, b, d] = c.gossips;
      const rb = recorder();
      const rd = recorder();
      const offs = [b.subscribe('big', rb.handler), d.subscribe('big', rd.handler), a.subscribe('big', () => {})];
      await c.ready('big');
      const payload = pattern(6 * 1024 * 1024, 7);
      await a.publish('big', payload);
      await eventually(() => rb.messages.length === 1 && rd.messages.length === 1, '6 MB delivered');
      assert.deepEqual(rb.messages[0].data, payload);
      assert.deepEqual(rd.messages[0].data, payload);
      assert.equal(rb.messages[0].from, a.id);
      for (const off of offs) off();
    });

    test('fetch: request/response, remote error, oversize, timeout, unknown protocol', async () => {
      const [a, b] = c.gossips;
      await b.handle('/test/echo/1', async (from, req) => enc(`${from === a.id ? 'a' : '?'}:${dec(req)}`));
      await b.handle('/test/big/1', async () => new Uint8Array(100_000));
      await b.handle('/test/fail/1', async () => {
        throw new Error('no snapshot yet');
      });
      // never answers: the caller's timeout must end the exchange
      await b.handle('/test/slow/1', () => new Promise<Uint8Array>(() => {}));
      assert.equal(dec(await a.fetch(b.id, '/test/echo/1', enc('ping'))), 'a:ping');
      await assert.rejects(a.fetch(b.id, '/test/big/1', enc('x'), { maxResponseBytes: 1000 }), (err: unknown) => {
        assert.ok(err instanceof FetchError);
        assert.equal(err.code, 'too-large');
        return true;
      });
      await assert.rejects(a.fetch(b.id, '/test/fail/1', enc('x')), (err: unknown) => {
        assert.ok(err instanceof FetchError);
        assert.equal(err.code, 'remote-error');
        assert.match(err.message, /no snapshot yet/);
        return true;
      });
      await assert.rejects(
        a.fetch(b.id, '/test/slow/1', enc('x'), { signal: AbortSignal.timeout(200) }),
        (err: unknown) => {
          assert.ok(err instanceof FetchError);
          assert.equal(err.code, 'timeout');
          return true;
        },
      );
      await assert.rejects(a.fetch(b.id, '/test/none/1', enc('x')), (err: unknown) => {
        assert.ok(err instanceof FetchError);
        assert.equal(err.code, 'unreachable');
        return true;
      });
      // the exchange still works after all those failures
      assert.equal(dec(await a.fetch(b.id, '/test/echo/1', enc('again'))), 'a:again');
    });

    test('unsubscribing stops delivery', async () => {
      const [a, b, d] = c.gossips;
      const rb = recorder();
      const rd = recorder();
      const offB = b.subscribe('leave', rb.handler);
      const offD = d.subscribe('leave', rd.handler);
      const offA = a.subscribe('leave', () => {});
      await c.ready('leave');
      offB();
      await a.publish('leave', enc('after'));
      await eventually(() => rd.messages.length === 1, 'd receives');
      assert.equal(rb.messages.length, 0);
      offA();
      offD();
    });

    test('peers() lists connections; a stopped node does not break publish for the others', async () => {
      const [a, b, d, e] = c.gossips;
      assert.ok(a.peers().includes(b.id), 'a connected to b');
      const disconnected: string[] = [];
      a.addEventListener('peer:disconnect', (evt) => disconnected.push(evt.detail));
      const rb = recorder();
      const rd = recorder();
      const offs = [b.subscribe('after-stop', rb.handler), d.subscribe('after-stop', rd.handler)];
      offs.push(
        a.subscribe('after-stop', () => {}),
        e.subscribe('after-stop', () => {}),
      );
      await c.ready('after-stop');
      await e.stop();
      await eventually(() => disconnected.includes(e.id), 'a sees e disconnect');
      assert.ok(!a.peers().includes(e.id));
      await a.publish('after-stop', enc('still here'));
      await eventually(() => rb.messages.length === 1 && rd.messages.length === 1, 'delivery after a peer stopped');
      await assert.rejects(e.publish('after-stop', enc('x')), { name: 'PublishError' });
      for (const off of offs) off();
    });
  });
}
