#!/usr/bin/env node
// The `sns-replay` bin: loads tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
