// The TUI session over the bare-metal demo: stepping reveals exactly one record, the
// run controls stop at the right record, a stall is told with its event, STAG and
// RESUME, and the list is the same whatever commands got it there.

import { describe, expect, it } from 'vitest';
import { ConsoleBuffer } from '../../src/tui/model/console.js';
import { TuiSession, parseKinds } from '../../src/tui/model/session.js';
import { ns } from '../../src/tui/model/decode.js';
import { scriptedWorkload } from '../../src/tui/model/workload.js';
import { demoWorkload } from '../../src/cli/tui.js';
import { createMachine } from '../../src/machine/create.js';
import { TraceKind } from '../../src/trace/record.js';
import { parseTraceFilter } from '../../src/trace/filter.js';

const MiB = 1024 * 1024;

function demoSession(): { session: TuiSession; console: ConsoleBuffer } {
  const console = new ConsoleBuffer();
  return { session: new TuiSession(demoWorkload(console, { ramSize: 64 * MiB, cpus: 2, seed: 1 })), console };
}

function lines(s: TuiSession): string[] {
  return s.rowsAt(0, s.rowCount).map((r) => `${r.record.index} ${r.record.timeNs} ${r.record.initiator} ${r.record.kind} ${r.decode}`);
}

describe('TuiSession controls', () => {
  it('step reveals exactly one record at a time, running the workload only when it needs more', () => {
    const { session } = demoSession();
    expect(session.rowCount).toBe(0);
    expect(session.step().reason).toBe('step');
    expect(session.end).toBe(1);
    const first = session.rowsAt(0, 1)[0]!;
    expect(first.record.kind).toBe(TraceKind.Marker);
    expect(first.decode).toMatch(/^\[1\] bench \(the test bench: this demo driving machine.bus, no CPU\) writes a 12 KiB seeded source buffer/);
    session.step(5);
    expect(session.end).toBe(6);
    expect(session.rowCount).toBe(6);
    expect(session.ahead).toBeGreaterThan(0); // the step's records exist but are not shown
  });

  it('run to the next stall stops on the Stall record the SMMU made for the unmapped page', () => {
    const { session } = demoSession();
    const stop = session.runToKind(new Set([TraceKind.Stall]));
    expect(stop.reason).toBe('match');
    const r = session.record(stop.index!)!;
    expect(r.kind).toBe(TraceKind.Stall);
    expect(stop.index).toBe(session.end - 1);
    expect(r.sid).toBe(0x10);
    expect(r.iova).toBe(0x7f00_0080_1000n);
    expect(session.decode(r)).toBe('STAG 0x0 F_TRANSLATION at 0x7f0000801000');
    // nothing after the stall is shown yet
    expect(session.rowsAt(0, session.rowCount).some((row) => row.record.kind === TraceKind.Resume)).toBe(false);
  });

  it('run to a filter stops at the first record it matches: the first SMMU command is CMD_CFGI_ALL', () => {
    const { session } = demoSession();
    const f = parseTraceFilter('kind=command');
    if (!f.ok) throw new Error(f.error);
    const stop = session.runToFilter(f.filter);
    expect(stop.reason).toBe('match');
    expect(session.decode(session.record(stop.index!)!)).toBe('CMD_CFGI_ALL');
    const next = session.runToFilter(f.filter);
    expect(session.decode(session.record(next.index!)!)).toBe('CMD_TLBI_NSNH_ALL');
  });

  it('a run with a budget stops with "budget" and continues where it stopped', () => {
    const { session } = demoSession();
    const stall = new Set([TraceKind.Stall]);
    let stop = session.runToKind(stall, 1);
    expect(stop.reason).toBe('budget');
    let rounds = 0;
    while (stop.reason === 'budget' && rounds++ < 20) stop = session.runToKind(stall, 1);
    expect(stop.reason).toBe('match');
    expect(session.record(stop.index!)!.kind).toBe(TraceKind.Stall);
  });

  it('runs to the end: the workload reports done and the session is finished', () => {
    const { session, console } = demoSession();
    expect(session.runToKind(new Set()).reason).toBe('end');
    expect(session.state).toBe('finished');
    expect(session.workload.status).toBe('all 9 steps done');
    expect(console.text).toContain('demo: ok');
  });
});

describe('TuiSession decodes a stall end to end', () => {
  it('the stall detail names the event, its STAG, the CMD_RESUME that ended it and how long it lasted', () => {
    const { session } = demoSession();
    const stall = session.runToKind(new Set([TraceKind.Stall])).index!;
    const before = session.detail(stall).flatMap((s) => s.rows).join('\n');
    expect(before).toContain('still held');
    expect(before).toContain('software must send CMD_RESUME');
    session.runToKind(new Set());
    const after = session.detail(stall).flatMap((s) => [s.title, ...s.rows]).join('\n');
    expect(after).toContain('STAG 0x0 (F_TRANSLATION) StreamID 0x10 SSID 1 IOVA 0x7f0000801000: held 20 ns, then RETRY');
    expect(after).toMatch(/by #\d+ CMD_RESUME RETRY StreamID=0x10 STAG=0x0/);
    expect(after).toMatch(/event {6}#\d+ at 2\.744 us: F_TRANSLATION StreamID 0x10 SSID 1/);
  });

  it('the stall detail names the STE and CD the SMMU translated with, and the retried walk that finds the page mapped', () => {
    const { session } = demoSession();
    const stall = session.runToKind(new Set([TraceKind.Stall])).index!;
    session.runToKind(new Set());
    const rows = session.detail(stall).flatMap((s) => s.rows);
    // demo step 6: STE 0x40400400 Config S1, S1CDMax 1; CD 0x40403040 ASID 0x42, TTB0 0x40410000, T0SZ 16, S=1
    expect(rows).toContainEqual(expect.stringMatching(/^STE {8}#\d+ at 0x40400400: V 1, Config S1 translate, S1ContextPtr 0x40403000, S1CDMax 1, S1STALLD 0$/));
    expect(rows).toContainEqual(expect.stringMatching(/^CD {9}#\d+ at 0x40403040: V 1, ASID 0x42, TTB0 0x40410000, T0SZ 16, S 1 \(faults stall\), R 1, A 1$/));
    expect(rows).toContainEqual(expect.stringMatching(/^retried {4}#\d+ at 2\.764 us: S1 walk 0x7f0000801000 L3 -> 0x40511000 \(4 reads\): the page is mapped now$/));
    const order = ['STE', 'CD', 'stalled', 'event', 'resumed', 'retried'].map((w) => rows.findIndex((r) => r.startsWith(w)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('times read in the unit that fits, to the ns', () => {
    expect(ns(20)).toBe('20 ns');
    expect(ns(2764)).toBe('2.764 us');
    expect(ns(302186653.455)).toBe('302.186653 ms');
    expect(ns(1.5e9)).toBe('1.500000000 s');
  });

  it('the event detail is the record the SMMU wrote in the EVTQ, decoded field by field', () => {
    const { session } = demoSession();
    session.runToKind(new Set([TraceKind.Event]));
    const event = session.record(session.end - 1)!;
    expect(event.kind).toBe(TraceKind.Event);
    const text = session.detail(event.index).flatMap((s) => [s.title, ...s.rows]).join('\n');
    expect(text).toContain('F_TRANSLATION event record from the EVTQ');
    // EVTQ at 0x40402000 (the demo's layout); the record: EventID 0x10, SSV, SSID 1, SID 0x10, Stall
    expect(text).toContain('dw0 0x0000001000001810');
    expect(text).toMatch(/Stall\s+1/);
    expect(text).toMatch(/InputAddr\s+0x7f0000801000/);
  });

  it('STE and CD fetches are decoded from guest RAM with the model field tables', () => {
    const { session } = demoSession();
    session.runToKind(new Set([TraceKind.ConfigFetch]));
    const ste = session.record(session.end - 1)!;
    expect(session.decode(ste)).toBe('STE fetch at 0x40400400 V=1 Config=S1 translate');
    session.runToKind(new Set([TraceKind.ConfigFetch]));
    const cd = session.record(session.end - 1)!;
    expect(session.decode(cd)).toBe('CD fetch at 0x40403040 V=1 ASID=0x42 S=1');
    expect(session.detail(cd.index).flatMap((s) => s.rows).join('\n')).toMatch(/T0SZ\s+0x10/);
  });
});

describe('TuiSession list, filter and search', () => {
  it('a filter selects the rows; an invalid one is refused with the parser message', () => {
    const { session } = demoSession();
    session.runToKind(new Set());
    const total = session.rowCount;
    expect(session.setFilter('kind=stall,event,resume')).toBeUndefined();
    expect(session.rowsAt(0, 10).map((r) => r.record.kind)).toEqual([TraceKind.Stall, TraceKind.Event, TraceKind.Resume]);
    expect(session.setFilter('kind=nonsense')).toMatch(/unknown trace kind "nonsense"/);
    expect(session.filterText).toBe('kind=stall,event,resume');
    expect(session.setFilter('')).toBeUndefined();
    expect(session.rowCount).toBe(total);
  });

  it('search finds the next row whose line contains the text, wrapping around', () => {
    const { session } = demoSession();
    session.runToKind(new Set());
    const marker = session.search('cmd_resume', 0)!; // the step title of [9] says CMD_RESUME too
    expect(session.rowsAt(marker, 1)[0]!.decode).toMatch(/^\[9\] the fault handler maps the page/);
    const row = session.search('cmd_resume', marker)!;
    expect(session.rowsAt(row, 1)[0]!.decode).toMatch(/^CMD_RESUME RETRY/);
    expect(session.search('cmd_resume', row)).toBe(marker);
    expect(session.search('cmd_resume', marker, true)).toBe(row);
    expect(session.search('no such text anywhere', 0)).toBeUndefined();
  });

  it('breakpoint kinds parse from their trace names', () => {
    expect(parseKinds('stall,fault bus_error')).toEqual([TraceKind.Stall, TraceKind.Fault, TraceKind.BusError]);
    expect(parseKinds('stal')).toMatch(/unknown trace kind "stal"/);
  });
});

describe('TuiSession is deterministic', () => {
  it('two sessions driven by different commands show identical lists', () => {
    const a = demoSession().session;
    a.runToKind(new Set());
    const b = demoSession().session;
    b.step(3);
    b.runToKind(new Set([TraceKind.BusError]));
    b.runToKind(new Set([TraceKind.Stall]), 2);
    b.step(40);
    while (b.runToKind(new Set(), 1).reason === 'budget');
    expect(b.ring.hash()).toBe(a.ring.hash());
    expect(lines(b)).toEqual(lines(a));
    expect(lines(a).length).toBe(736);
  });

  it('a session works on any machine and workload: records the ring lost are counted, not shown', () => {
    const machine = createMachine({ ramSize: 16 * MiB, cpus: 1, trace: true, traceCapacity: 16 });
    const console = new ConsoleBuffer();
    const steps = [{ title: 'forty bench reads of the UART flag register', run: () => { for (let i = 0; i < 40; i++) machine.bus.read32(0x0900_0018); } }];
    const session = new TuiSession(scriptedWorkload(machine, steps, { title: 'uart reads', write: (t) => console.write(t) }));
    session.runToKind(new Set());
    expect(session.lost).toBe(41 - 16); // marker + 40 reads through a ring of 16
    expect(session.rowCount).toBe(16);
    expect(session.rowsAt(0, 1)[0]!.decode).toMatch(/^uart UARTFR -> /);
  });
});
