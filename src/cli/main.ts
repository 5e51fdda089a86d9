/** Entry point of the `nst` command (bin/nst.js runs the compiled copy in dist/). */
import { warnIfUnsupportedNode } from './node-support.js';
import { main } from './program.js';

warnIfUnsupportedNode();
process.exitCode = await main(process.argv);
