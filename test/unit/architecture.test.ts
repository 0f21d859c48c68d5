// DESIGN.md 1: hardware and software meet only on the bus. This test reads every
// source file's import/export-from specifiers and fails on a dependency that
// crosses the line:
//   src/hw      -> src/hw, src/trace, src/arch (the CPU contract the cores implement),
//                  src/machine/clock and src/machine/cost; type-only imports of
//                  src/machine/machine (the Runnable contract of the run loop);
//                  packages: pako, node built-ins. Never src/kernel or src/user.
//   src/arch    -> src/arch only (the guest reaches hardware through it, so it must
//                  not reach hardware itself).
//   src/kernel  -> src/arch, src/kernel, src/user; no packages.
//   src/user    -> src/arch, src/kernel, src/user; pako (software gzip) and node
//                  built-ins.
//   src/tui     -> src/tui, src/hw (register maps, field tables), src/trace,
//                  src/machine; packages: blessed, node built-ins. It shows
//                  hardware-side facts only: never src/kernel, src/user or src/cli
//                  (the CLI builds the guest workload and hands it in).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface ImportRef {
  readonly specifier: string;
  readonly typeOnly: boolean;
  readonly line: number;
}

/** Blanks comments (keeping newlines and string contents), so commented-out imports do not count. */
function stripComments(src: string): string {
  let out = '';
  let i = 0;
  let quote: string | undefined;
  while (i < src.length) {
    const c = src[i]!;
    if (quote !== undefined) {
      out += c;
      if (c === '\\') {
        out += src[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === quote) quote = undefined;
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
      out += c;
      i++;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Every module specifier a TypeScript source depends on. */
function importsOf(source: string): ImportRef[] {
  const src = stripComments(source);
  const lineAt = (pos: number) => src.slice(0, pos).split('\n').length;
  const refs: ImportRef[] = [];
  const fromClause = /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?([^;'"`]*?)\s*from\s*['"]([^'"]+)['"]/g;
  for (const m of src.matchAll(fromClause)) {
    const clause = m[3]!.trim();
    const named = /^\{([^}]*)\}$/.exec(clause);
    const allTypes = named !== null && named[1]!.split(',').filter((s) => s.trim() !== '').every((s) => /^\s*type\s/.test(s));
    refs.push({ specifier: m[4]!, typeOnly: m[2] !== undefined || allTypes, line: lineAt(m.index! + m[0].indexOf(m[1]!)) });
  }
  for (const m of src.matchAll(/(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g)) refs.push({ specifier: m[1]!, typeOnly: false, line: lineAt(m.index!) });
  for (const m of src.matchAll(/(?<![.\w$])(import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    // import('x') in a type position is erased; treat both forms as dependencies anyway
    refs.push({ specifier: m[2]!, typeOnly: false, line: lineAt(m.index!) });
  }
  return refs;
}

/** What a specifier in `file` (repo-relative) points at: a repo path without extension, or a package name. */
function targetOf(file: string, specifier: string): { path: string } | { pkg: string } {
  if (specifier.startsWith('.')) {
    const abs = resolve(ROOT, dirname(file), specifier);
    return { path: relative(ROOT, abs).split('\\').join('/').replace(/\.(js|ts|mjs|cjs)$/, '') };
  }
  const bare = specifier.startsWith('node:') ? specifier : specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  return { pkg: bare };
}

const isBuiltin = (pkg: string) => pkg.startsWith('node:') || builtinModules.includes(pkg);
const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** The rule a dependency breaks, or undefined when it is allowed. */
function violation(file: string, ref: ImportRef): string | undefined {
  const t = targetOf(file, ref.specifier);
  if (under(file, 'src/hw')) {
    if ('pkg' in t) return t.pkg === 'pako' || isBuiltin(t.pkg) ? undefined : `hardware models may use only pako and node built-ins, not "${t.pkg}"`;
    if (under(t.path, 'src/kernel') || under(t.path, 'src/user')) return 'hardware models never import the guest (src/kernel, src/user)';
    if (under(t.path, 'src/hw') || under(t.path, 'src/trace') || under(t.path, 'src/arch')) return undefined;
    if (t.path === 'src/machine/clock' || t.path === 'src/machine/cost') return undefined;
    if (t.path === 'src/machine/machine' && ref.typeOnly) return undefined;
    return `hardware models may import src/machine/clock and src/machine/cost only, not ${t.path}`;
  }
  if (under(file, 'src/arch')) {
    if ('pkg' in t) return `the CPU contract imports no packages ("${t.pkg}")`;
    return under(t.path, 'src/arch') ? undefined : `the CPU contract (src/arch) must not depend on ${t.path}`;
  }
  if (under(file, 'src/tui')) {
    if ('pkg' in t) return t.pkg === 'blessed' || isBuiltin(t.pkg) ? undefined : `the TUI may use only blessed and node built-ins, not "${t.pkg}"`;
    if (under(t.path, 'src/kernel') || under(t.path, 'src/user')) return 'the TUI shows hardware-side facts: it never imports the guest (src/kernel, src/user)';
    if (under(t.path, 'src/cli')) return 'the TUI never imports src/cli (the CLI builds the workload and hands it in)';
    if (under(t.path, 'src/tui') || under(t.path, 'src/hw') || under(t.path, 'src/trace') || under(t.path, 'src/machine')) return undefined;
    return `the TUI may import src/hw, src/trace and src/machine, not ${t.path}`;
  }
  const kernel = under(file, 'src/kernel');
  if (kernel || under(file, 'src/user')) {
    if ('pkg' in t) {
      if (!kernel && (t.pkg === 'pako' || isBuiltin(t.pkg))) return undefined;
      return `guest ${kernel ? 'kernel' : 'user'} code may not import "${t.pkg}"${kernel ? '' : ' (only pako and node built-ins)'}`;
    }
    if (under(t.path, 'src/arch') || under(t.path, 'src/kernel') || under(t.path, 'src/user')) return undefined;
    return `guest code reaches hardware only through src/arch, not ${t.path}`;
  }
  return undefined;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(join(ROOT, dir));
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = `${dir}/${e}`;
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|mts|js|mjs)$/.test(e)) out.push(rel);
  }
  return out;
}

describe('architecture: hardware and software meet only on the bus (DESIGN.md 1)', () => {
  it('no source file in src/hw, src/arch, src/kernel, src/user or src/tui imports across the line', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const area of ['src/hw', 'src/arch', 'src/kernel', 'src/user', 'src/tui']) {
      for (const file of sourceFiles(area)) {
        checked++;
        for (const ref of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
          const v = violation(file, ref);
          if (v !== undefined) problems.push(`${file}:${ref.line}: imports '${ref.specifier}': ${v}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

describe('architecture checker (so the rule above can fail)', () => {
  it('finds import, export-from, side-effect, dynamic and multi-line forms, and skips comments', () => {
    const src = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "import {\n  type C,\n  type D,\n} from './cd.js';",
      "export { e } from './e.js';",
      "export * from './star.js';",
      "import './side.js';",
      "const x = await import('./dyn.js');",
      "// import { no } from './commented.js';",
      "/* export * from './block.js'; */",
      "const s = 'from \"./not-an-import.js\"';",
      "tree.require('/cpus');",
    ].join('\n');
    expect(importsOf(src).map((r) => [r.specifier, r.typeOnly])).toEqual([
      ['./a.js', false],
      ['../b.js', true],
      ['./cd.js', true],
      ['./e.js', false],
      ['./star.js', false],
      ['./side.js', false],
      ['./dyn.js', false],
    ]);
  });

  it('flags hardware importing the guest or the machine board, and guest code importing hardware', () => {
    const v = (file: string, specifier: string, typeOnly = false) => violation(file, { specifier, typeOnly, line: 1 });
    expect(v('src/hw/smmuv3/cmdq.ts', '../../kernel/iommu/iommu.js')).toMatch(/never import the guest/);
    expect(v('src/hw/zip/engine.ts', '../../user/libwd/wd.js')).toMatch(/never import the guest/);
    expect(v('src/hw/cpu/core.ts', '../../machine/machine.js')).toMatch(/clock and src\/machine\/cost only/);
    expect(v('src/hw/cpu/core.ts', '../../machine/machine.js', true)).toBeUndefined();
    expect(v('src/hw/cpu/core.ts', '../../machine/clock.js')).toBeUndefined();
    expect(v('src/hw/zip/codec.ts', 'pako')).toBeUndefined();
    expect(v('src/hw/tui.ts', 'blessed')).toMatch(/only pako and node built-ins/);
    expect(v('src/kernel/drivers/iommu/arm-smmu-v3.ts', '../../../hw/smmuv3/ste.js')).toMatch(/only through src\/arch/);
    expect(v('src/kernel/mm/gup.ts', '../../trace/ring.js')).toMatch(/only through src\/arch/);
    expect(v('src/kernel/fs/vfs.ts', 'node:fs')).toMatch(/may not import "node:fs"/);
    expect(v('src/user/bin/gzip.ts', 'pako')).toBeUndefined();
    expect(v('src/user/bin/gzip.ts', 'blessed')).toMatch(/only pako and node built-ins/);
    expect(v('src/user/libc/stdio.ts', '../../arch/index.js')).toBeUndefined();
    expect(v('src/arch/cpu.ts', '../hw/cpu/core.js')).toMatch(/must not depend on src\/hw\/cpu\/core/);
    expect(v('src/machine/board.ts', '../kernel/init/main.js')).toBeUndefined(); // the board may load the kernel image
  });

  it('flags the TUI importing the guest, the CLI or an unexpected package', () => {
    const v = (file: string, specifier: string) => violation(file, { specifier, typeOnly: false, line: 1 });
    expect(v('src/tui/model/decode.ts', '../../kernel/drivers/iommu/arm-smmu-v3.js')).toMatch(/never imports the guest/);
    expect(v('src/tui/app.ts', '../user/libc/stdio.js')).toMatch(/never imports the guest/);
    expect(v('src/tui/model/workload.ts', '../../cli/boot-image.js')).toMatch(/never imports src\/cli/);
    expect(v('src/tui/app.ts', 'pako')).toMatch(/only blessed and node built-ins/);
    expect(v('src/tui/app.ts', 'blessed')).toBeUndefined();
    expect(v('src/tui/model/decode.ts', '../../hw/smmuv3/cmdq.js')).toBeUndefined();
    expect(v('src/tui/model/session.ts', '../../trace/filter.js')).toBeUndefined();
    expect(v('src/tui/model/session.ts', '../../machine/board.js')).toBeUndefined();
    expect(v('src/tui/model/session.ts', '../../arch/index.js')).toMatch(/may import src\/hw, src\/trace and src\/machine/);
  });
});
