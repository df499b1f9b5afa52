/** The producer SDK: `createProducer` and its types. */
export { createProducer } from './producer.ts';
export type { BatchItem, CloseReport, Producer, PublishOptions, PublishResult } from './producer.ts';
export { PRODUCER_DEFAULTS } from './options.ts';
export type { ProducerOptions } from './options.ts';
