import { describe, expect, it } from 'vitest';
import { packBatch, unpackBatch } from '../../producers/batch-codec.ts';
import type { Outgoing } from '../../producers/sender.ts';

function message(topic: string, key: string, partition: number, headers: Record<string, string>, value = Buffer.from(`v-${key}`)): Outgoing {
  return { topic, message: { key, value, headers, partition } };
}

const roundTrip = (batch: Outgoing[]): Outgoing[] => {
  const { buffer, length } = packBatch(batch);
  return unpackBatch(Buffer.from(buffer, 0, length));
};

describe('batch codec (one ArrayBuffer per batch for the send worker)', () => {
  it('round-trips topics, partitions, keys, values and headers in order', () => {
    const batch: Outgoing[] = [];
    for (let i = 0; i < 300; i++) {
      const key = i % 7 === 0 ? `Pérez-Ñandú-${i}-😀` : `INC-${i}`;
      const headers: Record<string, string> = { ce_specversion: '1.0', ce_id: `id-${i}`, ce_source: 'CONRED', ce_type: i % 2 ? 'a.b.c' : 'a.b.d', ce_subject: i % 3 ? key : `other-${i}`, 'content-type': 'application/avro' };
      if (i % 5 === 0) headers.traceparent = `00-${String(i).padStart(32, '0')}-${'1'.repeat(16)}-01`;
      batch.push(message(i % 4 === 0 ? 'topic.b' : 'topic.a', key, i % 6, headers, i === 10 ? Buffer.alloc(0) : Buffer.from(`value ${i} ${'x'.repeat(i)}`)));
    }
    const out = roundTrip(batch);
    expect(out).toEqual(batch);
    for (const [i, o] of out.entries()) expect(Object.keys(o.message.headers)).toEqual(Object.keys(batch[i]!.message.headers));
  });

  it('grows past its size estimate (a batch much larger per message than the last one)', () => {
    roundTrip([message('t', 'k', 0, { a: 'b' })]);
    const big = Array.from({ length: 50 }, (_, i) => message('t', `k${i}`, i, { h: 'ü'.repeat(5_000) }, Buffer.alloc(100_000, i)));
    const out = roundTrip(big);
    expect(out.length).toBe(big.length);
    // Compared piecewise: a deep equality over 5 MB of Buffers takes vitest seconds.
    for (const [i, o] of out.entries()) {
      expect({ ...o.message, value: undefined }).toEqual({ ...big[i]!.message, value: undefined });
      expect(o.message.value.equals(big[i]!.message.value)).toBe(true);
    }
  });

  it('packs an empty batch and one whose buffer is transferable (not a pooled slab)', () => {
    expect(roundTrip([])).toEqual([]);
    const { buffer, length } = packBatch([message('t', 'k', 0, {})]);
    expect(buffer.byteLength).toBeGreaterThanOrEqual(length);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(buffer, [buffer]);
    expect(buffer.byteLength).toBe(0); // detached: it was moved, not copied
    port1.close();
    port2.close();
  });
});
