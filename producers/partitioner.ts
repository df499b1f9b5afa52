/**
 * Kafka's default partitioning of keyed records (Java `Utils.murmur2`,
 * `toPositive(murmur2(utf8(key))) % partitions`), with 32-bit integer
 * arithmetic instead of kafkajs's 64-bit `Long` objects: the same partition as
 * the Java client and kafkajs's DefaultPartitioner, without allocating per
 * key. ASCII keys (the usual ids) are hashed from their char codes; others
 * from their UTF-8 bytes.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Java's `Utils.murmur2` of the bytes of an ASCII string (each char code is its byte). */
function murmur2Ascii(s: string): number {
  const length = s.length;
  let h = SEED ^ length;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= s.charCodeAt(tail + 2) << 16;
    if (rest >= 2) h ^= s.charCodeAt(tail + 1) << 8;
    h = Math.imul(h ^ s.charCodeAt(tail), M);
  }
  return finish(h);
}

/** Java's `Utils.murmur2` of `bytes`. */
function murmur2Bytes(b: Uint8Array): number {
  const length = b.length;
  let h = SEED ^ length;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= b[tail + 2]! << 16;
    if (rest >= 2) h ^= b[tail + 1]! << 8;
    h = Math.imul(h ^ b[tail]!, M);
  }
  return finish(h);
}

function finish(h: number): number {
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Java's `Utils.murmur2` of the UTF-8 bytes of `key` (a signed 32-bit integer). */
export function murmur2(key: string | Buffer): number {
  if (typeof key !== 'string') return murmur2Bytes(key);
  return isAscii(key) ? murmur2Ascii(key) : murmur2Bytes(Buffer.from(key, 'utf8'));
}

/** The partition of a keyed record among `partitions` (Kafka's and kafkajs's default partitioner). */
export function partitionOfKey(key: string | Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
