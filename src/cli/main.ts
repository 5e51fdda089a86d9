/** Entry point of the `nst` command (bin/nst.js loads this). */
import { main } from './program.js';

process.exitCode = await main(process.argv);
