// mkimage DIR OUT.cpio [--script FILE]: the image builder as a command (what
// `svasoc mkimage` runs). Exit status 0, or 2 with a message on bad arguments.

import { readFileSync, writeFileSync } from 'node:fs';
import { buildImage } from './build.js';

export function mkimageMain(args: readonly string[], err: (s: string) => void = (s) => process.stderr.write(s)): number {
  const pos: string[] = [];
  let script: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--script') {
      script = args[++i];
      if (script === undefined) {
        err('mkimage: --script needs a FILE\n');
        return 2;
      }
    } else pos.push(args[i]!);
  }
  if (pos.length !== 2) {
    err('usage: mkimage DIR OUT.cpio [--script FILE]\n');
    return 2;
  }
  try {
    const archive = buildImage(pos[0]!, script === undefined ? {} : { script: new Uint8Array(readFileSync(script)) });
    writeFileSync(pos[1]!, archive);
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  return 0;
}

if (process.argv[1] !== undefined && /mkimage[\\/]main\.ts$/.test(process.argv[1])) process.exitCode = mkimageMain(process.argv.slice(2));
