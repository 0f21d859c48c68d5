// The `svasoc` command: bin/svasoc.mjs and `npm start` run this file.
import { runCli } from './commands.js';

const status = runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
if (typeof status === 'number') process.exitCode = status;
else void status.then((code) => (process.exitCode = code));
