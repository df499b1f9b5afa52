// Entry of the export's worker thread: loads tsx in the thread (whatever the
// parent was started with), then the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./export-worker.ts');
