/**
 * The batch handed to the export's worker: what its cursor gives back is what
 * the lines read of the kafkajs message that went in.
 */
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BatchPacker, CARRIED_HEADERS, PackedCursor, type PackedBatch } from '../../../consumers/replay/batch-transfer.ts';

/** Every message of a packed batch, as the cursor's `message()` builds it. */
function unpackBatch(packed: PackedBatch): KafkaMessage[] {
  const cursor = new PackedCursor(packed);
  return Array.from({ length: cursor.count }, () => {
    cursor.next();
    return cursor.message();
  });
}

const message = (m: Partial<KafkaMessage> & { headers?: Record<string, unknown> }): KafkaMessage =>
  ({ key: null, value: null, offset: '0', timestamp: '0', attributes: 0, headers: {}, ...m }) as KafkaMessage;

describe('batch transfer to the export worker', () => {
  it('carries value, key, offset, timestamp and the line headers; absent, null, empty and repeated headers as the lines read them', () => {
    const big = Buffer.alloc(5_000, 7);
    const input = [
      message({ key: Buffer.from('clave-ñ'), value: Buffer.from([0, 0, 0, 0, 1, 2]), offset: '9007199254740993', timestamp: '1764000000000', headers: { ce_type: Buffer.from('a.b'), ce_id: Buffer.from('"x"\n'), other: Buffer.from('dropped') } }),
      message({ key: null, value: big, headers: { ce_source: [Buffer.from('PNC'), Buffer.from('MINGOB')], ce_subject: Buffer.alloc(0), traceparent: '00-abc' } }),
      message({ value: null, headers: undefined }),
      message({ value: Buffer.from('v'), headers: { ce_time: null } as never }),
    ];
    const packer = new BatchPacker();
    // Twice through the same packer: the buffer given back is reused.
    for (let round = 0; round < 2; round++) {
      const packed = packer.pack(input);
      const out = unpackBatch(packed);
      expect(out).toHaveLength(4);
      expect(out[0]!.key!.toString()).toBe('clave-ñ');
      expect([...out[0]!.value!]).toEqual([0, 0, 0, 0, 1, 2]);
      expect(out[0]!.offset).toBe('9007199254740993');
      expect(out[0]!.timestamp).toBe('1764000000000');
      expect(Object.keys(out[0]!.headers!)).toEqual(['ce_type', 'ce_id']);
      expect(String(out[0]!.headers!.ce_id)).toBe('"x"\n');
      expect(out[1]!.key).toBeNull();
      expect(Buffer.compare(out[1]!.value!, big)).toBe(0);
      expect(String(out[1]!.headers!.ce_source)).toBe('PNC');
      expect(out[1]!.headers!.ce_subject).toEqual(Buffer.alloc(0));
      expect(String(out[1]!.headers!.traceparent)).toBe('00-abc');
      expect(out[2]!.value).toBeNull();
      expect(out[2]!.headers).toEqual({});
      expect(out[3]!.headers!.ce_time).toBeNull();
      packer.recycle(packed.buffer);
    }
    expect(CARRIED_HEADERS).toContain('traceparent');
  });

  it('grows past its scratch size for a large batch', () => {
    const value = Buffer.alloc(300, 1);
    const input = Array.from({ length: 5_000 }, (_, i) => message({ value, offset: String(i) }));
    const out = unpackBatch(new BatchPacker().pack(input));
    expect(out).toHaveLength(5_000);
    expect(out[4_999]!.offset).toBe('4999');
    expect(out.every((m) => m.value!.length === 300)).toBe(true);
  });

  it('reads each timestamp as Number(timestamp) would, without making its text', () => {
    const texts = ['1764000000000', '0', '-1', '', '007', '12345678901234567', '9007199254740993', '17x', '-', '-0', '--1'];
    const input = [...texts.map((timestamp) => message({ timestamp })), message({ timestamp: undefined as never })];
    const cursor = new PackedCursor(new BatchPacker().pack(input));
    for (const text of texts) {
      cursor.next();
      expect(cursor.timestampMs(), text).toBe(Number(text));
    }
    cursor.next();
    expect(cursor.timestampMs()).toBe(Number(''));
  });
});
