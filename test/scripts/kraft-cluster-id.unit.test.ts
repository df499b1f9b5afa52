/**
 * The KRaft cluster id the stack formats Kafka's storage with: never one the
 * storage tool would take for an option (a leading '-').
 */
import { describe, expect, it } from 'vitest';
import { kraftClusterId } from '../../scripts/stack/stack.ts';

describe('KRaft cluster id', () => {
  it('draws again when the id would start with "-", and is 16 bytes in base64url', () => {
    // 0xf8… encodes to "-…" in base64url (0b111110 = 62 = '-').
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
    let calls = 0;
    const id = kraftClusterId(() => draws[calls++]!);
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    expect(calls).toBe(2);
    expect(id).toBe(Buffer.alloc(16, 0x01).toString('base64url'));
    for (let i = 0; i < 2_000; i++) {
      const x = kraftClusterId();
      expect(x.startsWith('-')).toBe(false);
      expect(Buffer.from(x, 'base64url')).toHaveLength(16);
    }
  });
});
