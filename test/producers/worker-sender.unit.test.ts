import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Kafka, RecordMetadata } from 'kafkajs';
import type { Outgoing } from '../../producers/sender.ts';
import { createWorkerSender } from '../../producers/worker-sender.ts';

describe('worker sender', () => {
  it('falls back to the in-process sender, with a debug reason, when its worker cannot start', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const sent: unknown[] = [];
    const calls: string[] = [];
    // A kafkajs client on this thread: the fallback's producer.
    const kafka = {
      producer: () => ({
        connect: async () => void calls.push('connect'),
        sendBatch: async (b: { topicMessages: unknown[] }) => {
          sent.push(b.topicMessages);
          return [{ topicName: 't', partition: 0, errorCode: 0, baseOffset: '7' }] as RecordMetadata[];
        },
        disconnect: async () => void calls.push('disconnect'),
      }),
    } as unknown as Kafka;
    const sender = createWorkerSender({ clientId: 'c', brokers: ['127.0.0.1:9'], logger, kafka, entry: new URL('./no-such-worker.mjs', import.meta.url) });
    const batch: Outgoing[] = [{ topic: 't', message: { key: 'k', value: Buffer.from('v'), headers: {}, partition: 0 } }];
    await expect(sender.send(batch)).resolves.toEqual([{ topicName: 't', partition: 0, errorCode: 0, baseOffset: '7' }]);
    sender.reset(); // drops (disconnects) that producer: the next send connects a new one
    await sender.send(batch);
    await sender.close();
    expect(sent).toEqual([[{ topic: 't', messages: [batch[0]!.message] }], [{ topic: 't', messages: [batch[0]!.message] }]]);
    expect(calls).toEqual(['connect', 'disconnect', 'connect', 'disconnect']);
    await expect(sender.send(batch)).rejects.toMatchObject({ code: 'BUS_ERR_PRODUCER_CLOSED' });
    const reason = lines.find((l) => l.msg === 'send worker unavailable: sending on the main thread');
    expect(reason).toMatchObject({ level: 20, component: 'producer-sender' });
    expect(String(reason!.reason)).toMatch(/no-such-worker|Cannot find/);
  });
});
