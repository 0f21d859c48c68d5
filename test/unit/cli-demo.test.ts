// The bare-metal demo's SVA part: SMMU bring-up in the Linux order, a PASID-tagged DMA
// through stage 1, a stalled DMA reported in the Event queue and resumed after the
// page is mapped. Asserts on the printed narrative and on the machine afterwards.
import { describe, it, expect } from 'vitest';
import { runBareMetalDemo, SVA_LAYOUT } from '../../src/cli/demo.js';
import { runCli } from '../../src/cli/commands.js';
import { createMachine } from '../../src/machine/create.js';
import { TraceKind } from '../../src/trace/record.js';

function demoText(seed = 1) {
  let text = '';
  const result = runBareMetalDemo({ write: (t) => (text += t) }, { seed, ramSize: 64 << 20 });
  return { text, result };
}

describe('svasoc demo: SVA through the SMMU', () => {
  const { text, result } = demoText();
  const machine = result.machine;
  const bus = machine.bus;

  it('runs every step without a failed check and ends with "demo: ok"', () => {
    expect(result.failures).toEqual([]);
    expect(text.trim().endsWith('demo: ok')).toBe(true);
  });

  it('IHI 0070 6.3.9/6.3.14: brings the SMMU up (GBPA abort, CR0 acks, CMDQ invalidations, EVTQ, IRQ_CTRL) and leaves SMMUEN, EVTQEN, CMDQEN acked', () => {
    expect(text).toMatch(/GBPA\.ABORT set, CR0 = 0 \(acked\), CR1 0x00000d75, CR2 0x00000006/);
    expect(text).toMatch(/CFGI_ALL \+ TLBI_NSNH_ALL \+ CMD_SYNC consumed/);
    expect(text).toMatch(/SMMUEN acked/);
    expect(bus.read32(0x0905_0024)).toBe(0b1101); // CR0ACK: SMMUEN | EVTQEN | CMDQEN
    expect(bus.read32(0x0905_0054)).toBe(0b101); // IRQ_CTRLACK: GERROR | EVTQ
    // The command queue drained: CONS == PROD, no error.
    expect(bus.read32(0x0905_009c)).toBe(bus.read32(0x0905_0098));
  });

  it('the PASID DMA translates the user VA through CD 1 to the buffer PA, with the SubstreamID in the trace', () => {
    expect(text).toMatch(/SSV=1 SSID=1: walk of 0x7f0000400000 through CD 1 gives 0x40500000; DMA_RESULT 0x00000000, word at 0x40500000 = 0x12345678/);
    const walks = [...machine.trace.records()].filter((r) => r.kind === TraceKind.Walk && r.initiator === 'smmu');
    expect(walks.some((r) => r.iova === BigInt(SVA_LAYOUT.iova) && r.pa === BigInt(SVA_LAYOUT.pa) && r.ssid === 1 && r.sid === 0x10)).toBe(true);
    expect(bus.read32(SVA_LAYOUT.pa + 252)).toBe(0x12345678);
  });

  it('IHI 0070 3.12.2: the DMA to the unmapped page stalls; the EVTQ holds F_TRANSLATION with Stall = 1, the SSID and the faulting address; the device stays BUSY', () => {
    expect(text).toMatch(/EVTQ\[0\]: F_TRANSLATION \(0x10\) StreamID 0x10 SSV 1 SubstreamID 1 Stall 1 STAG 0x0000 RnW 0 PnU 0 InD 0 CLASS IN InputAddr 0x7f0000801000/);
    expect(text).toMatch(/DMA_RESULT 0xfffffffe \(BUSY\), 4096 bytes moved/);
  });

  it('IHI 0070 4.7.2: after the page is mapped, CMD_RESUME with RETRY + CMD_SYNC replays the transaction and the DMA completes', () => {
    expect(text).toMatch(/RESUME STAG 0x0000 and CMD_SYNC consumed/);
    expect(text).toMatch(/DMA_RESULT 0x00000000 at \d+ ns, 8192 bytes moved \(ended at 0x00802000\); last word at 0x40511ffc = 0x12345678/);
    const kinds = [...machine.trace.records()].map((r) => r.kind);
    const stall = kinds.indexOf(TraceKind.Stall);
    const resume = kinds.indexOf(TraceKind.Resume);
    expect(stall).toBeGreaterThan(0);
    expect(resume).toBeGreaterThan(stall);
    expect(bus.read32(SVA_LAYOUT.stallPa + 0x1000)).toBe(0x12345678);
  });

  it('prints the trace excerpt from the stall step on, in the text exporter format', () => {
    expect(text).toMatch(/trace: \d+ records, hash [0-9a-f]{8}; first \d+ of \d+ from step \[8\]/);
    expect(text).toMatch(/^ {2}\d+ smmu stall sid=0x10 ssid=0x1 iova=0x7f0000801000 /m);
    expect(text).toMatch(/^ {2}\d+ smmu resume sid=0x10 ssid=0x1 iova=0x7f0000801000 /m);
  });

  it('is deterministic: the same seed prints the same text byte for byte', () => {
    expect(demoText().text).toBe(text);
  });

  it('works on a machine the caller passes in (trace on), with the SMMU part on the board SMMU', () => {
    const m = createMachine({ trace: true, ramSize: 64 << 20, cpus: 1 });
    const r = runBareMetalDemo({ write: () => {} }, { machine: m });
    expect(r.failures).toEqual([]);
    expect(m.smmu.stalls.outstanding).toBe(0);
  });
});

describe('svasoc demo command', () => {
  it('`svasoc demo` runs the demo and exits 0; it takes no positional argument (exit 2)', () => {
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t) };
    expect(runCli(['demo', '--ram', '64M', '--seed', '3'], io)).toBe(0);
    expect(out).toMatch(/seed 3/);
    expect(out).toMatch(/demo: ok/);
    expect(runCli(['demo', 'extra'], io)).toBe(2);
    expect(err).toMatch(/demo takes no arguments/);
  });
});
