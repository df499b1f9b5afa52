import { randomBytes, randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionOfKey } from '../../producers/partitioner.ts';

const kafkajs = Partitioners.DefaultPartitioner();
const metadata = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0] }));

describe('partitionOfKey', () => {
  it('matches Java murmur2 reference values', () => {
    // Values from Kafka's UtilsTest.testMurmur2.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from('abc'))).toBe(479470107);
  });

  it('places every key where kafkajs DefaultPartitioner does (ASCII, UTF-8, every tail length)', () => {
    const keys: string[] = ['', 'a', 'ab', 'abc', 'abcd', 'INC-2026-000123', 'Ñandú-ñ', 'placa P123ABC 🚗', 'ü', '日本語キー'];
    for (let i = 0; i < 2000; i++) keys.push(randomUUID().slice(0, i % 37));
    for (let i = 0; i < 500; i++) keys.push(randomBytes(1 + (i % 20)).toString('latin1'));
    for (let i = 0; i < 200; i++) keys.push(String.fromCodePoint(...Array.from({ length: 1 + (i % 7) }, (_, j) => 0x80 + ((i * 7919 + j * 104729) % 0x10f000))));
    for (const n of [1, 3, 6, 12, 50]) {
      const md = metadata(n);
      for (const key of keys) {
        expect(partitionOfKey(key, n), JSON.stringify(key)).toBe(kafkajs({ topic: 't', partitionMetadata: md, message: { key, value: null } }));
        expect(partitionOfKey(Buffer.from(key), n)).toBe(kafkajs({ topic: 't', partitionMetadata: md, message: { key: Buffer.from(key), value: null } }));
      }
    }
  });
});
