// A tile worker run from the TypeScript sources (tests, tsx): it registers tsx before it loads its task,
// since Node 20's workers take no `--import`. The compiled package loads worker.js directly.
import { register } from 'tsx/esm/api';

register();
export default (await import('./worker.ts')).default;
