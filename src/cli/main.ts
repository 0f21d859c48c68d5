// The `svasoc` command: bin/svasoc.mjs and `npm start` run this file.
import { runCli } from './commands.js';

process.exitCode = runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
