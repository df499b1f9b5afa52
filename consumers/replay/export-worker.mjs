// Entry of the export's worker thread (see export-worker.ts, started by export.ts).
import { URL } from 'node:url';
import { importTs } from '../../core/import-ts.mjs';

await importTs(new URL('./export-worker.ts', import.meta.url).href);
