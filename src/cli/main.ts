// The `svasoc` command: bin/svasoc.mjs and `npm start` run this file. Argument errors,
// --help and --version are answered from the argument tables alone; the emulator (the
// machine, the guest kernel, the TUI) is loaded only for a command that runs it.
import { answerWithoutMachine, parseArgs } from './args.js';

const argv = process.argv.slice(2);
const io = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
};
const answer = answerWithoutMachine(parseArgs(argv), io);
if (answer !== undefined) process.exitCode = answer;
else {
  void import('./commands.js').then(async ({ runCli }) => {
    process.exitCode = await runCli(argv, io);
  });
}
