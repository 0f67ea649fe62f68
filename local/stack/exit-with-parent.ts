/**
 * Preloaded (`node --import tsx --import …/exit-with-parent.ts`) into a child of the stack that
 * has no hook of its own (the simulated devices): it ends with the process that started it.
 */
import { exitWithParent } from './signal';

exitWithParent();
