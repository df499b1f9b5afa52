/**
 * Vitest global setup of the `int` project: brings the local stack up when it
 * is not up (so `npm install && npm test` is all a newcomer types) and stops
 * it afterwards if it started it, unless SNS_STACK_KEEP=1.
 */
import { stackDown, stackUp } from '../scripts/stack/stack.ts';

let startedHere = false;

export async function setup(): Promise<void> {
  startedHere = await stackUp();
}

export async function teardown(): Promise<void> {
  if (startedHere && process.env.SNS_STACK_KEEP !== '1') await stackDown();
}
