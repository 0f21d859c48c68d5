// The TUI session on a bare SMMU rig (no board): the decodes find the SMMU on the bus,
// so events and PRI queue entries are read from the rig's queues like the board's.

import { describe, expect, it } from 'vitest';
import { bringUp, cmd, dmaRead, makeRig, priResp, setupS1, sync } from '../conformance/smmuv3-harness.js';
import { ConsoleBuffer } from '../../src/tui/model/console.js';
import { TuiSession } from '../../src/tui/model/session.js';
import { scriptedWorkload } from '../../src/tui/model/workload.js';
import { TraceKind } from '../../src/trace/record.js';

function session(run: (rig: ReturnType<typeof makeRig>, q: ReturnType<typeof bringUp>) => void): TuiSession {
  const rig = makeRig(0x10);
  const q = bringUp(rig);
  const console = new ConsoleBuffer();
  return new TuiSession(scriptedWorkload(rig.m, [{ title: 'rig step', run: () => run(rig, q) }], { title: 'rig', write: (t) => console.write(t) }));
}

const text = (s: TuiSession, index: number) => s.detail(index).flatMap((x) => [x.title, ...x.rows]).join('\n');

describe('TUI session on a bare SMMU rig', () => {
  it('a page request is shown with the PRI queue entry the SMMU wrote (IHI 0070 8: PRIQ_0/PRIQ_1 fields)', () => {
    const s = session((rig) => void rig.port.pageRequest(0x1234_5678, 5, true, true, false, false, false, 3, true));
    const stop = s.runToKind(new Set([TraceKind.PageRequest]));
    const r = s.record(stop.index!)!;
    expect(s.decode(r)).toBe('PRI PRG 3 R Last page 0x12345000');
    s.runToKind(new Set()); // the entry is taken once PRIQ_PROD has moved
    const detail = text(s, r.index);
    expect(detail).toContain('PRI queue entry (PRI fields)');
    expect(detail).toMatch(/StreamID\s+0x10/);
    expect(detail).toMatch(/SubstreamID\s+0x5/);
    expect(detail).toMatch(/Read\s+1/);
    expect(detail).toMatch(/Last\s+1/);
    expect(detail).toMatch(/SSV\s+1/);
    expect(detail).toMatch(/PRGIndex\s+0x3/);
    expect(detail).toMatch(/PageAddr\s+0x12345000/);
  });

  it('a page request tells its group: waiting until CMD_PRI_RESP, then the response the function got and how long it waited', () => {
    let rigRef: ReturnType<typeof makeRig> | undefined;
    const s = session((rig) => {
      rigRef = rig;
      rig.port.pageRequest(0x1234_5678, 5, true, true, false, false, false, 3, true);
    });
    const request = s.record(s.runToKind(new Set([TraceKind.PageRequest])).index!)!;
    s.runToKind(new Set());
    expect(text(s, request.index)).toContain('answered   not yet: software must send CMD_PRI_RESP for the group');
    cmd(rigRef!, priResp(0x10, 3, 2, 5), sync()); // Resp 0b10 Success
    s.runToKind(new Set());
    const response = s.rowsAt(0, s.rowCount).find((r) => r.record.kind === TraceKind.PageResponse)!.record;
    for (const from of [request.index, response.index]) {
      const rows = s.detail(from).flatMap((x) => x.rows);
      expect(rows[0]).toMatch(/^PRG 3 StreamID 0x10 SSID 5 page 0x12345000: answered Success after [\d.]+ (ns|us)$/);
      expect(rows).toContainEqual(expect.stringMatching(/^requested  #\d+ at .* PRI PRG 3 R Last page 0x12345000$/));
      expect(rows).toContainEqual(expect.stringMatching(/^answered   #\d+ at .* by #\d+ CMD_PRI_RESP .*PRGIndex=0x3.*: PRG 3 response Success$/));
    }
  });

  it('a translation fault with CD.R set is an F_TRANSLATION event read back from the rig EVTQ', () => {
    const s = session((rig, q) => {
      setupS1(rig, q, 0x10, { r: true });
      dmaRead(rig, 0x4000_0000);
    });
    const stop = s.runToKind(new Set([TraceKind.Event]));
    const r = s.record(stop.index!)!;
    expect(s.decode(r)).toBe('F_TRANSLATION StreamID 0x10 InputAddr 0x40000000');
    const detail = text(s, r.index);
    expect(detail).toContain('F_TRANSLATION event record from the EVTQ (EVT fields)');
    expect(detail).toMatch(/EventID\s+0x10/);
    expect(detail).toMatch(/InputAddr\s+0x40000000/);
    expect(detail).toMatch(/RnW\s+1/);
  });
});
