/**
 * Replay and historical analysis: selecting what to read (topics or event
 * types, a time range resolved with offsets-for-times, explicit offsets), and
 * the three targets — rebuilding the store into a fresh schema and swapping
 * it in, exporting decoded events for analysts, and re-driving the alert
 * rules as Exercise. The CLI is `npm run replay` (`sns-replay`).
 */
export { resolvePlan, describePlan, planSize, parseOffsets, parseInstant } from './selection.ts';
export type { ReplaySelection, ReplayPlan, PartitionRange, OffsetSpec } from './selection.ts';
export { readPlan, positionKey, READER_DEFAULTS } from './reader.ts';
export type { RangeBatch, ReadOptions } from './reader.ts';
export { exportEvents, csvColumns, csvLine, typesOf } from './export.ts';
export type { ExportOptions, ExportResult, ExportFormat, ExportedEvent } from './export.ts';
export { rebuildStore, swapSchemas, oldSchemas, dropOldSchema, checksumStore, rebuildGroupOf, REBUILD_DEFAULTS } from './rebuild.ts';
export type { RebuildOptions, RebuildResult, SwapOptions } from './rebuild.ts';
export { redriveAlerts, EXERCISE_ALERTS_SCHEMA } from './redrive.ts';
export type { RedriveOptions, RedriveResult } from './redrive.ts';
export { fingerprintOf } from './checkpoint.ts';
export type { Checkpoint } from './checkpoint.ts';
