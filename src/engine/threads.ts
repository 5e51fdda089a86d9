/** The engines' default thread count: every core this process may use. */
import { availableParallelism } from 'node:os';

export const defaultThreads = (): number => availableParallelism();
