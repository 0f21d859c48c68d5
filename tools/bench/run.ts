// `npm run bench`: runs every tools/bench/*.bench.ts module, prints a table and writes
// tools/bench/results.json. Pass a substring to run only matching modules.
// Each module runs in a process of its own, so its figures do not depend on the code
// the modules before it left the JIT (call sites made polymorphic, heap grown): in one
// shared process the same loop measured up to 1.5x apart depending on what ran first.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchFigure, BenchModule } from './figure.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const ONE = '--one-module';

if (process.argv[2] === ONE) {
  // Child: run one module and hand its figures back on stdout.
  const file = process.argv[3]!;
  const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchModule;
  process.stdout.write(JSON.stringify(await mod.bench()));
  process.exit(0);
}

const filter = process.argv[2] ?? '';
const modules = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && f.includes(filter))
  .sort();

const figures: BenchFigure[] = [];
for (const file of modules) {
  process.stderr.write(`bench ${file} ...\n`);
  const child = spawnSync(process.execPath, [...process.execArgv, self, ONE, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (child.status !== 0) {
    process.stderr.write(`bench ${file} failed (exit ${child.status ?? child.signal})\n`);
    process.exit(1);
  }
  figures.push(...(JSON.parse(child.stdout) as BenchFigure[]));
}

const rows = figures.map((f) => [f.name, f.value.toPrecision(4), f.unit, f.target, f.pass ? 'pass' : 'FAIL']);
const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['name', 'value', 'unit', 'target', ''][i]!.length));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(['name', 'value', 'unit', 'target', '']));
for (const r of rows) console.log(line(r));
// A filtered run replaces only its own figures in results.json.
const resultsPath = join(here, 'results.json');
const kept: BenchFigure[] =
  filter && existsSync(resultsPath)
    ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchFigure[]).filter((old) => !figures.some((f) => f.name === old.name))
    : [];
const all = [...kept, ...figures].sort((a, b) => a.name.localeCompare(b.name));
writeFileSync(resultsPath, JSON.stringify(all, null, 2) + '\n');
console.log(`\nwrote tools/bench/results.json (${all.length} figures)`);
process.exitCode = figures.every((f) => f.pass) ? 0 : 1;
