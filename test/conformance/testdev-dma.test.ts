import { describe, it, expect } from 'vitest';
import { PcieHostBridge } from '../../src/hw/pcie/host-bridge.js';
import {
  IommuTestDev,
  ITD_REG_DMA_TRIGGERING as TRIGGER,
  ITD_REG_DMA_GVA_LO as GVA_LO,
  ITD_REG_DMA_GVA_HI as GVA_HI,
  ITD_REG_DMA_LEN as LEN,
  ITD_REG_DMA_RESULT as RESULT,
  ITD_REG_DMA_DBELL as DBELL,
  ITD_REG_DMA_ATTRS as ATTRS,
  ITD_REG_DMA_GPA_LO as GPA_LO,
  ITD_REG_DMA_GPA_HI as GPA_HI,
  ITD_X_SSID,
  ITD_X_CTRL,
  ITD_X_FAULT_LO,
  ITD_X_DONE,
  ITD_X_PRI_STATUS,
  ITD_X_READ_DATA,
  ITD_X_ID,
  ITD_X_ID_VALUE,
  ITD_X_CTRL_SSV,
  ITD_X_CTRL_PRIV,
  ITD_X_CTRL_EXEC,
  ITD_X_CTRL_PRI,
  ITD_X_CTRL_MSI,
  ITD_X_OP_READ,
  ITD_X_OP_WRITE,
  ITD_DMA_RESULT_BUSY,
  ITD_DMA_RESULT_IDLE,
  ITD_DMA_ERR_BAD_LEN,
  ITD_DMA_ERR_TX_FAIL,
  ITD_DMA_ERR_RD_FAIL,
  ITD_DMA_ERR_MISMATCH,
  ITD_DMA_ERR_NOT_ARMED,
  ITD_DMA_ERR_BAD_ATTRS,
  ITD_X_ERR_PRI_REFUSED,
  ITD_X_ERR_PRI_DENIED,
  ITD_X_FAULT_HI,
  ITD_X_PRI_PAGES,
} from '../../src/hw/testdev/iommu-testdev.js';
import { DmaStatus, type DmaAttrs, type DmaPort, type Iommu, type IommuResult, type PageRequestSink } from '../../src/hw/bus/dma.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { MachineCore } from '../../src/machine/machine.js';
import { TraceKind } from '../../src/trace/record.js';

const BAR = 0x1000_0000;
const CFG = 0x3f00_0000 + (2 << 15);
const RAM = 0x4000_0000;
const PATTERN = 0x12345678;

interface PageRequestRecord {
  addr: number;
  ssid: number;
  ssv: boolean;
  read: boolean;
  write: boolean;
  exec: boolean;
  priv: boolean;
  prg: number;
  last: boolean;
}

/** A page-granular IOMMU for tests: a map of IOVA pages, optional stalls, optional PRI. */
class FakeIommu implements Iommu {
  readonly pages = new Map<number, number>();
  readonly calls: { iova: number; write: boolean; ssid: number; ssv: boolean; priv: boolean; exec: boolean }[] = [];
  stallNext = 0;
  /** Pages whose first translation stalls (each once). */
  readonly stallOnce = new Set<number>();
  pri: PageRequestSink | undefined;
  readonly requests: PageRequestRecord[] = [];

  withPri(): this {
    this.pri = {
      request: (_port: DmaPort, addr, ssid, ssv, read, write, exec, priv, prg, last) => {
        this.requests.push({ addr, ssid, ssv, read, write, exec, priv, prg, last });
        return true;
      },
    };
    return this;
  }

  translate(_port: DmaPort, iova: number, write: boolean, a: Readonly<DmaAttrs>, out: IommuResult): DmaStatus {
    this.calls.push({ iova, write, ssid: a.ssid, ssv: a.ssv, priv: a.priv, exec: a.exec });
    if (this.stallNext > 0) {
      this.stallNext--;
      return DmaStatus.Stalled;
    }
    const page = iova - (iova % 4096);
    if (this.stallOnce.delete(page)) return DmaStatus.Stalled;
    const pa = this.pages.get(page);
    if (pa === undefined) return DmaStatus.Abort;
    out.pa = pa + (iova - page);
    out.span = 4096 - (iova - page);
    return DmaStatus.Ok;
  }
}

class Doorbell implements MmioDevice {
  readonly name = 'doorbell';
  readonly values: number[] = [];
  mmioRead(_o: number, _s: AccessSize, acc: MmioAccess): void {
    acc.lo = 0;
  }
  mmioWrite(_o: number, _s: AccessSize, acc: MmioAccess): void {
    this.values.push(acc.lo >>> 0);
  }
}

function setup() {
  const m = new MachineCore({ ramSize: 1 << 24 });
  const bridge = new PcieHostBridge(m);
  bridge.mapOn();
  const td = new IommuTestDev({ clock: m.clock, cost: m.cost });
  bridge.attach(td.fn, { bus: 0, device: 2, function: 0 });
  m.bus.write32(CFG + 0x10, BAR);
  m.bus.write16(CFG + 0x04, 0x6); // Memory Space + Bus Master
  const r = (off: number) => m.bus.read32(BAR + off);
  const w = (off: number, v: number) => m.bus.write32(BAR + off, v);
  /** Programs a DMA the QEMU way: GVA, GPA, LEN, ATTRS (Non-secure), arm. */
  const program = (gva: number, gpa: number, len: number) => {
    w(GVA_LO, gva >>> 0);
    w(GVA_HI, Math.floor(gva / 2 ** 32));
    w(GPA_LO, gpa >>> 0);
    w(GPA_HI, Math.floor(gpa / 2 ** 32));
    w(LEN, len);
    w(ATTRS, 0b1010); // space valid, Non-secure
    w(DBELL, 1);
  };
  const runDma = () => {
    r(TRIGGER);
    m.run({ untilIdle: true });
    return r(RESULT);
  };
  return { m, td, r, w, program, runDma };
}

/** PCIe 4.0 7.6.3: finds an extended capability by walking the list from 0x100. */
function extCap(m: MachineCore, id: number): number {
  for (let at = 0x100; at !== 0; ) {
    const h = m.bus.read32(CFG + at);
    if ((h & 0xffff) === id) return at;
    at = h >>> 20;
  }
  throw new Error(`extended capability ${id} not found`);
}

function patternAt(m: MachineCore, pa: number, len: number): boolean {
  const bytes = m.bus.readBytes(pa, len);
  for (let i = 0; i < len; i++) if (bytes[i] !== ((PATTERN >>> ((i & 3) * 8)) & 0xff)) return false;
  return true;
}

describe('iommu-testdev: QEMU protocol', () => {
  it('PCI identity: 1b36:0005, class 0xff (others), BAR0 4 KiB memory', () => {
    const { m } = setup();
    expect(m.bus.read32(CFG)).toBe(0x00051b36);
    expect(m.bus.read32(CFG + 0x08) >>> 8).toBe(0xff0000);
    m.bus.write32(CFG + 0x10, 0xffffffff);
    expect(m.bus.read32(CFG + 0x10)).toBe(0xfffff000);
  });

  it('RESULT is IDLE at reset, BUSY once armed, IDLE again when disarmed', () => {
    const { r, w } = setup();
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_IDLE);
    w(DBELL, 1);
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_BUSY);
    w(DBELL, 0);
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_IDLE);
  });

  it('arm + trigger writes 0x12345678 to the IOVA, verifies it at the GPA and reports 0 after the modelled DMA time', () => {
    const { m, r, program } = setup();
    const pa = RAM + 0x10_0000;
    program(pa, pa, 0x1000);
    const t0 = m.clock.now();
    expect(r(TRIGGER)).toBe(0);
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_BUSY);
    const doneAt = t0 + m.cost.dmaLatencyNs + Math.ceil(0x1000 / m.cost.dmaBytesPerNs);
    m.run({ untilNs: doneAt - 1 });
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_BUSY);
    m.run({ untilNs: doneAt });
    expect(r(RESULT)).toBe(0);
    expect(m.bus.read32(pa)).toBe(PATTERN);
    expect(patternAt(m, pa, 0x1000)).toBe(true);
    expect(m.bus.read32(pa + 0x1000)).toBe(0); // nothing beyond LEN
  });

  it('the pattern is little-endian and restarts at the IOVA for lengths that are not a multiple of 4', () => {
    const { m, program, runDma } = setup();
    const pa = RAM + 0x2001;
    program(pa, pa, 7);
    expect(runDma()).toBe(0);
    expect([...m.bus.readBytes(pa - 1, 9)]).toEqual([0, 0x78, 0x56, 0x34, 0x12, 0x78, 0x56, 0x34, 0]);
  });

  it('reading DMA_TRIGGERING without arming reports NOT_ARMED (0xdead0005)', () => {
    const { r } = setup();
    r(TRIGGER);
    expect(r(RESULT)).toBe(ITD_DMA_ERR_NOT_ARMED);
  });

  it('the trigger consumes the armed request: a second trigger reports NOT_ARMED', () => {
    const { r, program, runDma } = setup();
    program(RAM, RAM, 16);
    expect(runDma()).toBe(0);
    r(TRIGGER);
    expect(r(RESULT)).toBe(ITD_DMA_ERR_NOT_ARMED);
  });

  it('a zero length reports BAD_LEN (0xdead0001)', () => {
    const { program, runDma } = setup();
    program(RAM, RAM, 0);
    expect(runDma()).toBe(ITD_DMA_ERR_BAD_LEN);
  });

  it('a write to an address nothing decodes reports TX_FAIL (0xdead0002) and where it stopped', () => {
    const { r, program, runDma } = setup();
    program(0x2_0000_0000, RAM, 64);
    expect(runDma()).toBe(ITD_DMA_ERR_TX_FAIL);
    expect(r(ITD_X_FAULT_LO)).toBe(0);
    expect(r(ITD_X_DONE)).toBe(0);
  });

  it('a readback GPA nothing decodes reports RD_FAIL (0xdead0003)', () => {
    const { program, runDma } = setup();
    program(RAM, 0x2_0000_0000, 64);
    expect(runDma()).toBe(ITD_DMA_ERR_RD_FAIL);
  });

  it('a GPA that does not hold what the IOVA received reports MISMATCH (0xdead0004)', () => {
    const { program, runDma } = setup();
    program(RAM, RAM + 0x1000, 64);
    expect(runDma()).toBe(ITD_DMA_ERR_MISMATCH);
  });

  it('secure bit and Non-secure space that disagree report BAD_ATTRS (0xdead0006)', () => {
    const { w, program, runDma } = setup();
    program(RAM, RAM, 64);
    w(ATTRS, 0b1011);
    expect(runDma()).toBe(ITD_DMA_ERR_BAD_ATTRS);
  });

  it('a Secure request gets an error response: svasoc has no Secure PA space', () => {
    const { w, program, runDma } = setup();
    program(RAM, RAM, 64);
    w(ATTRS, 0b1001); // secure, space Secure, valid
    expect(runDma()).toBe(ITD_DMA_ERR_TX_FAIL);
  });

  it('PCI 3.0 6.2.2: with Bus Master Enable clear the device cannot write: TX_FAIL', () => {
    const { m, program, runDma } = setup();
    m.bus.write16(CFG + 0x04, 0x2);
    program(RAM, RAM, 64);
    expect(runDma()).toBe(ITD_DMA_ERR_TX_FAIL);
    expect(m.bus.read32(RAM)).toBe(0);
  });

  it('registers are 32-bit only: narrower accesses are refused; unknown offsets read 0 like QEMU', () => {
    const { m, r } = setup();
    m.bus.read16(BAR + LEN);
    expect(m.bus.error).toBe(true);
    expect(r(0x24)).toBe(0);
    expect(r(0xffc)).toBe(0);
  });

  it('GVA/GPA/LEN/ATTRS read back what was written', () => {
    const { r, program } = setup();
    program(0x1_2345_6788, 0x9_8765_4320, 0x333);
    expect([r(GVA_LO), r(GVA_HI), r(GPA_LO), r(GPA_HI), r(LEN), r(ATTRS)]).toEqual([0x23456788, 1, 0x87654320, 9, 0x333, 0b1010]);
  });

  it('the DMA is traced as a DMA write by the test device with its StreamID', () => {
    const { m, td, program, runDma } = setup();
    m.trace.enable();
    program(RAM, RAM, 32);
    expect(runDma()).toBe(0);
    const dw = [...m.trace.records()].filter((x) => x.kind === TraceKind.DmaWrite);
    expect(dw).toHaveLength(1);
    expect(dw[0]!.sid).toBe(td.fn.rid);
    expect(dw[0]!.value).toBe(BigInt(PATTERN));
  });

  it('PCIe 4.0 6.6.2: FLR during a DMA cancels it; the device comes back idle and writes nothing', () => {
    const { m, r, program } = setup();
    program(RAM, RAM, 64);
    r(TRIGGER);
    m.bus.write16(CFG + 0x48, 1 << 15);
    m.run({ untilIdle: true });
    expect(m.bus.read32(RAM)).toBe(0);
    m.bus.write32(CFG + 0x10, BAR);
    m.bus.write16(CFG + 0x04, 0x6);
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_IDLE);
  });
});

describe('iommu-testdev: svasoc extensions', () => {
  it('X_ID identifies the extension block', () => {
    const { r } = setup();
    expect(r(ITD_X_ID)).toBe(ITD_X_ID_VALUE);
  });

  it('OP=write only writes the pattern without a readback', () => {
    const { m, w, program, runDma } = setup();
    program(RAM, 0x2_0000_0000, 64); // an undecodable GPA is never read
    w(ITD_X_CTRL, ITD_X_OP_WRITE << 4);
    expect(runDma()).toBe(0);
    expect(patternAt(m, RAM, 64)).toBe(true);
  });

  it('OP=read reads the IOVA, compares with the pattern and latches the first DWORD', () => {
    const { m, r, w, program, runDma } = setup();
    const pa = RAM + 0x8000;
    const bytes = new Uint8Array(256);
    for (let i = 0; i < 256; i++) bytes[i] = (PATTERN >>> ((i & 3) * 8)) & 0xff;
    m.bus.writeBytes(pa, bytes);
    program(pa, 0, 256);
    w(ITD_X_CTRL, ITD_X_OP_READ << 4);
    expect(runDma()).toBe(0);
    expect(r(ITD_X_READ_DATA)).toBe(PATTERN);
    m.bus.write8(pa + 200, 0);
    program(pa, 0, 256);
    expect(runDma()).toBe(ITD_DMA_ERR_MISMATCH);
  });

  it('OP=read of an address nothing decodes reports RD_FAIL and sets Received Master Abort', () => {
    const { m, w, program, runDma } = setup();
    program(0x2_0000_0000, 0, 16);
    w(ITD_X_CTRL, ITD_X_OP_READ << 4);
    expect(runDma()).toBe(ITD_DMA_ERR_RD_FAIL);
    expect(m.bus.read16(CFG + 0x06) & (1 << 13)).toBe(1 << 13);
  });

  it('the IOMMU translates each page with the SubstreamID, SSV, privileged and exec attributes programmed', () => {
    const { m, td, w, program, runDma } = setup();
    m.bus.write16(CFG + extCap(m, 0x1b) + 6, 0b111); // PASID, Execute, Privileged enables
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.pages.set(0x7000_0000, RAM + 0x5000);
    iommu.pages.set(0x7000_1000, RAM + 0x3000);
    program(0x7000_0f00, RAM + 0x5f00, 0x200);
    w(ITD_X_SSID, 0x1234);
    w(ITD_X_CTRL, ITD_X_CTRL_SSV | ITD_X_CTRL_PRIV | ITD_X_CTRL_EXEC | (ITD_X_OP_WRITE << 4));
    expect(runDma()).toBe(0);
    expect(iommu.calls).toEqual([
      { iova: 0x7000_0f00, write: true, ssid: 0x1234, ssv: true, priv: true, exec: true },
      { iova: 0x7000_1000, write: true, ssid: 0x1234, ssv: true, priv: true, exec: true },
    ]);
    expect(patternAt(m, RAM + 0x5f00, 0x100)).toBe(true);
    expect(m.bus.read32(RAM + 0x3000)).toBe(PATTERN); // the second page continues the pattern phase
  });

  it('PCIe 4.0 7.8.8.3: with PASID Enable clear the transaction carries no PASID, privileged or exec attribute', () => {
    const { td, w, program, runDma } = setup();
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.pages.set(0x7000_0000, RAM);
    program(0x7000_0000, RAM, 4);
    w(ITD_X_SSID, 9);
    w(ITD_X_CTRL, ITD_X_CTRL_SSV | ITD_X_CTRL_PRIV | ITD_X_CTRL_EXEC);
    expect(runDma()).toBe(0);
    expect(iommu.calls[0]).toMatchObject({ ssid: 0, ssv: false, priv: false, exec: false });
  });

  it('PCIe 4.0 7.8.8.3: privileged and exec need their own PASID Control enables', () => {
    const { m, td, w, program, runDma } = setup();
    m.bus.write16(CFG + extCap(m, 0x1b) + 6, 0b001);
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.pages.set(0x7000_0000, RAM);
    program(0x7000_0000, RAM, 4);
    w(ITD_X_SSID, 9);
    w(ITD_X_CTRL, ITD_X_CTRL_SSV | ITD_X_CTRL_PRIV | ITD_X_CTRL_EXEC);
    expect(runDma()).toBe(0);
    expect(iommu.calls[0]).toMatchObject({ ssid: 9, ssv: true, priv: false, exec: false });
  });

  it('X_SSID holds Max PASID Width bits (16 by default)', () => {
    const { r, w } = setup();
    w(ITD_X_SSID, 0xfffff);
    expect(r(ITD_X_SSID)).toBe(0xffff);
  });

  it('IHI 0070 3.4.1: DMA_GVA is a 64-bit address; one with bit 63 set reaches the IOMMU sign-extended (negative) and FAULT reads it back whole', () => {
    const { r, td, w, program, runDma } = setup();
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.pages.set(-0x2000, RAM);
    program(0, RAM, 0x2000);
    w(GVA_LO, 0xffff_e000);
    w(GVA_HI, 0xffff_ffff);
    expect(runDma()).toBe(ITD_DMA_ERR_TX_FAIL);
    expect(iommu.calls.map((c) => c.iova)).toEqual([-0x2000, -0x1000]);
    expect([r(ITD_X_FAULT_HI), r(ITD_X_FAULT_LO)]).toEqual([0xffff_ffff, 0xffff_f000]);
  });

  it('doorbell writes and triggers are ignored while a DMA is in flight', () => {
    const { m, r, w, program } = setup();
    program(RAM, RAM, 64);
    r(TRIGGER);
    w(DBELL, 0);
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_BUSY);
    r(TRIGGER);
    m.run({ untilIdle: true });
    expect(r(RESULT)).toBe(0);
  });

  it('PCIe 4.0 7.5.3.5: Transactions Pending is set while a DMA is in flight', () => {
    const { m, r, program } = setup();
    program(RAM, RAM, 64);
    expect(m.bus.read16(CFG + 0x4a) & (1 << 5)).toBe(0);
    r(TRIGGER);
    expect(m.bus.read16(CFG + 0x4a) & (1 << 5)).toBe(1 << 5);
    m.run({ untilIdle: true });
    expect(m.bus.read16(CFG + 0x4a) & (1 << 5)).toBe(0);
  });

  it('without SSV the transaction carries no SubstreamID even if X_SSID is set', () => {
    const { td, w, program, runDma } = setup();
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.pages.set(0x7000_0000, RAM);
    program(0x7000_0000, RAM, 4);
    w(ITD_X_SSID, 7);
    expect(runDma()).toBe(0);
    expect(iommu.calls[0]).toMatchObject({ ssid: 0, ssv: false });
  });

  it('an IOMMU abort fails the write with TX_FAIL and records the faulting IOVA', () => {
    const { r, td, program, runDma } = setup();
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.pages.set(0x7000_0000, RAM);
    program(0x7000_0800, RAM + 0x800, 0x1000);
    expect(runDma()).toBe(ITD_DMA_ERR_TX_FAIL);
    expect(r(ITD_X_FAULT_LO)).toBe(0x7000_1000);
    expect(r(ITD_X_DONE)).toBe(0x800);
  });

  it('IHI 0070 3.12.2: a stalled transaction keeps RESULT BUSY until the IOMMU resumes it, then replays and completes', () => {
    const { m, r, td, program, runDma } = setup();
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.pages.set(0x7000_0000, RAM);
    iommu.stallNext = 1;
    program(0x7000_0000, RAM, 64);
    expect(runDma()).toBe(ITD_DMA_RESULT_BUSY);
    expect(td.busy).toBe(true);
    m.run({ forNs: 1_000_000 });
    expect(r(RESULT)).toBe(ITD_DMA_RESULT_BUSY);
    td.fn.dma.onStallEnd!(true);
    m.run({ untilIdle: true });
    expect(r(RESULT)).toBe(0);
    expect(iommu.calls).toHaveLength(2);
  });

  it('IHI 0070 3.12.2: a stalled transaction that the IOMMU terminates fails with TX_FAIL', () => {
    const { m, r, td, program, runDma } = setup();
    const iommu = new FakeIommu();
    td.fn.dma.iommu = iommu;
    iommu.stallNext = 1;
    program(0x7000_0000, RAM, 64);
    expect(runDma()).toBe(ITD_DMA_RESULT_BUSY);
    td.fn.dma.onStallEnd!(false);
    m.run({ untilIdle: true });
    expect(r(RESULT)).toBe(ITD_DMA_ERR_TX_FAIL);
  });

  describe('time of a transfer with stalls', () => {
    const IOVA = 0x7000_0000;
    const PAGES = 40; // 160 KiB: the engine moves it in three runs (64 + 64 + 32 KiB)

    /**
     * Runs a write of PAGES pages whose pages `stallAt` stall once each; the IOMMU resumes
     * (RETRY) the k-th stall `waits[k]` ns after it happened. Returns the trigger time,
     * the completion time (trace) and the times of the stalls.
     */
    function stalledWrite(stallAt: readonly number[], waits: readonly number[]) {
      const { m, r, w, td, program } = setup();
      const iommu = new FakeIommu();
      td.fn.dma.iommu = iommu;
      for (let i = 0; i < PAGES; i++) iommu.pages.set(IOVA + i * 4096, RAM + i * 4096);
      for (const p of stallAt) iommu.stallOnce.add(IOVA + p * 4096);
      m.trace.enable();
      program(IOVA, RAM, PAGES * 4096);
      w(ITD_X_CTRL, ITD_X_OP_WRITE << 4);
      const t0 = m.clock.now();
      r(TRIGGER);
      const stalledAt: number[] = [];
      for (const wait of waits) {
        m.run({ untilIdle: true });
        expect(r(RESULT)).toBe(ITD_DMA_RESULT_BUSY);
        stalledAt.push(m.clock.now());
        m.run({ forNs: wait });
        td.fn.dma.onStallEnd!(true);
      }
      m.run({ untilIdle: true });
      expect(r(RESULT)).toBe(0);
      expect(iommu.stallOnce.size).toBe(0);
      expect(patternAt(m, RAM, PAGES * 4096)).toBe(true);
      const done = [...m.trace.records()].filter((x) => x.kind === TraceKind.Completion);
      expect(done).toHaveLength(1);
      return { m, t0, doneAt: done[0]!.timeNs, stalledAt };
    }

    it('without stalls a transfer takes the DMA latency plus its bytes at the engine bandwidth', () => {
      const { m, t0, doneAt } = stalledWrite([], []);
      expect(doneAt - t0).toBe(m.cost.dmaLatencyNs + Math.ceil((PAGES * 4096) / m.cost.dmaBytesPerNs));
    });

    it('k stalls add the time spent stalled and nothing more: each page is charged once', () => {
      // the first page, pages inside the first run, the first two pages of the second run, the last page
      const stallAt = [0, 5, 16, 17, 39];
      const waits = [300, 1_000, 7, 20_000, 0];
      const { m, t0, doneAt, stalledAt } = stalledWrite(stallAt, waits);
      const transfer = m.cost.dmaLatencyNs + Math.ceil((PAGES * 4096) / m.cost.dmaBytesPerNs);
      expect(doneAt - t0).toBe(transfer + waits.reduce((a, b) => a + b, 0));
      // the engine stops at a stall: the first page stalls once the first run's time has passed
      expect(stalledAt[0]! - t0).toBe(m.cost.dmaLatencyNs + Math.ceil(65536 / m.cost.dmaBytesPerNs));
    });

    it('a stall on every page grows the transfer linearly in the stalls', () => {
      const wait = 2_000;
      const all = Array.from({ length: PAGES }, (_, i) => i);
      const { m, t0, doneAt } = stalledWrite(all, all.map(() => wait));
      expect(doneAt - t0).toBe(m.cost.dmaLatencyNs + Math.ceil((PAGES * 4096) / m.cost.dmaBytesPerNs) + PAGES * wait);
    });

    it('the time is the same on every run (determinism)', () => {
      const a = stalledWrite([3, 20], [500, 900]);
      const b = stalledWrite([3, 20], [500, 900]);
      expect([b.doneAt - b.t0, ...b.stalledAt.map((t) => t - b.t0)]).toEqual([a.doneAt - a.t0, ...a.stalledAt.map((t) => t - a.t0)]);
    });
  });

  it('a stall end that arrives while nothing is stalled is ignored', () => {
    const { td, program, runDma } = setup();
    program(RAM, RAM, 8);
    expect(runDma()).toBe(0);
    td.fn.dma.onStallEnd!(false);
    expect(td.busy).toBe(false);
  });

  describe('PRI', () => {
    function priSetup() {
      const s = setup();
      const iommu = new FakeIommu().withPri();
      s.td.fn.dma.iommu = iommu;
      const pri = extCap(s.m, 0x13);
      const pasid = extCap(s.m, 0x1b);
      s.m.bus.write32(CFG + pri + 0xc, 8); // Outstanding Page Request Allocation
      s.m.bus.write16(CFG + pri + 4, 1); // PRI Enable
      s.m.bus.write16(CFG + pasid + 6, 1); // PASID Enable
      s.program(0x7000_0010, RAM + 0x10, 32);
      s.w(ITD_X_SSID, 5);
      s.w(ITD_X_CTRL, ITD_X_CTRL_PRI | ITD_X_CTRL_SSV | (ITD_X_OP_WRITE << 4));
      return { ...s, iommu, pri, pasid };
    }

    it('PCIe 4.0 10.4.1: an IOMMU abort with PRI on sends a page request for the page and waits for the response', () => {
      const { r, td, iommu, runDma } = priSetup();
      expect(runDma()).toBe(ITD_DMA_RESULT_BUSY);
      expect(iommu.requests).toEqual([{ addr: 0x7000_0000, ssid: 5, ssv: true, read: false, write: true, exec: false, priv: false, prg: 0, last: true }]);
      expect(td.fn.pageRequestsOutstanding).toBe(1);
      expect(r(ITD_X_PRI_STATUS) >>> 16).toBe(1);
    });

    it('PCIe 4.0 10.4.2: a Success response makes the device retry, which now completes', () => {
      const { m, r, td, iommu, runDma } = priSetup();
      runDma();
      iommu.pages.set(0x7000_0000, RAM);
      td.fn.dma.onPageResponse!(0, 0, 5, true);
      expect(td.fn.pageRequestsOutstanding).toBe(0);
      m.run({ untilIdle: true });
      expect(r(RESULT)).toBe(0);
      expect(patternAt(m, RAM + 0x10, 32)).toBe(true);
    });

    it('PCIe 4.0 10.4.2.1: an Invalid Request response fails the DMA with PRI_DENIED (0xdead0008)', () => {
      const { m, r, td, runDma } = priSetup();
      runDma();
      td.fn.dma.onPageResponse!(0, 1, 5, true);
      m.run({ untilIdle: true });
      expect(r(RESULT)).toBe(ITD_X_ERR_PRI_DENIED);
      expect(r(ITD_X_PRI_STATUS) & 0xf000).toBe(0x1000);
    });

    it('PCIe 4.0 10.5.2.3: Response Failure sets the RF status bit and stops the interface', () => {
      const { m, td, w, pri, program, runDma } = priSetup();
      runDma();
      td.fn.dma.onPageResponse!(0, 0xf, 5, true);
      m.run({ untilIdle: true });
      expect(m.bus.read16(CFG + pri + 6) & 0x101).toBe(0x101); // RF, Stopped
      program(0x7000_0010, RAM + 0x10, 32);
      w(ITD_X_CTRL, ITD_X_CTRL_PRI | (ITD_X_OP_WRITE << 4));
      expect(runDma()).toBe(ITD_X_ERR_PRI_REFUSED);
    });

    it('PCIe 4.0 10.5.2.3: a response for a PRG index with nothing outstanding sets UPRGI', () => {
      const { m, td, pri } = priSetup();
      td.fn.dma.onPageResponse!(9, 0, 0, false);
      expect(m.bus.read16(CFG + pri + 6) & 2).toBe(2);
    });

    it('with PRI disabled in config space the device cannot send a page request: PRI_REFUSED (0xdead0007)', () => {
      const { m, iommu, pri, runDma } = priSetup();
      m.bus.write16(CFG + pri + 4, 0);
      expect(runDma()).toBe(ITD_X_ERR_PRI_REFUSED);
      expect(iommu.requests).toEqual([]);
    });

    it('PCIe 4.0 10.5.2.5: with no outstanding-request allocation the request is not sent', () => {
      const { m, iommu, pri, runDma } = priSetup();
      m.bus.write32(CFG + pri + 0xc, 0);
      expect(runDma()).toBe(ITD_X_ERR_PRI_REFUSED);
      expect(iommu.requests).toEqual([]);
    });

    it('PCIe 4.0 7.8.8: without PASID Enable the page request carries no PASID', () => {
      const { m, iommu, pasid, runDma } = priSetup();
      m.bus.write16(CFG + pasid + 6, 0);
      runDma();
      expect(iommu.requests[0]).toMatchObject({ ssid: 0, ssv: false });
    });

    it('PCIe 4.0 10.4.1: X_PRI_PAGES asks for the faulting page and the next ones as one group, Last on the final request', () => {
      const { m, r, td, w, iommu, program, runDma } = priSetup();
      program(0x7000_0000, RAM, 3 * 4096);
      w(ITD_X_PRI_PAGES, 4);
      expect(runDma()).toBe(ITD_DMA_RESULT_BUSY);
      // limited by the end of the transfer: pages 0..2 of the 3-page transfer
      expect(iommu.requests.map((q) => [q.addr, q.prg, q.last])).toEqual([
        [0x7000_0000, 0, false],
        [0x7000_1000, 0, false],
        [0x7000_2000, 0, true],
      ]);
      expect(td.fn.pageRequestsOutstanding).toBe(3);
      expect(r(ITD_X_PRI_STATUS) >>> 16).toBe(3);
      // one response answers the group and returns its credits
      for (let i = 0; i < 3; i++) iommu.pages.set(0x7000_0000 + i * 4096, RAM + i * 4096);
      td.fn.dma.onPageResponse!(0, 0, 5, true);
      expect(td.fn.pageRequestsOutstanding).toBe(0);
      m.run({ untilIdle: true });
      expect(r(RESULT)).toBe(0);
    });

    it('PCIe 4.0 10.5.2.5: a group never exceeds the outstanding-request allocation left', () => {
      const { m, iommu, pri, w, program, runDma } = priSetup();
      m.bus.write32(CFG + pri + 0xc, 2);
      program(0x7000_0000, RAM, 8 * 4096);
      w(ITD_X_PRI_PAGES, 8);
      runDma();
      expect(iommu.requests.map((q) => [q.addr, q.last])).toEqual([
        [0x7000_0000, false],
        [0x7000_1000, true],
      ]);
    });

    it('a page request adds the time until its response and one DMA latency for the access issued again', () => {
      const { m, r, td, iommu, program } = priSetup();
      const pages = 20; // two runs of the engine (64 + 16 KiB)
      const missing = [0, 7, 16];
      for (let i = 0; i < pages; i++) if (!missing.includes(i)) iommu.pages.set(0x7000_0000 + i * 4096, RAM + i * 4096);
      m.trace.enable();
      program(0x7000_0000, RAM, pages * 4096);
      const t0 = m.clock.now();
      r(TRIGGER);
      const waits = [500, 3_000, 40];
      waits.forEach((wait, k) => {
        m.run({ untilIdle: true });
        expect(iommu.requests.map((q) => q.addr)).toEqual(missing.slice(0, k + 1).map((p) => 0x7000_0000 + p * 4096));
        iommu.pages.set(0x7000_0000 + missing[k]! * 4096, RAM + missing[k]! * 4096);
        m.run({ forNs: wait });
        td.fn.dma.onPageResponse!(k, 0, 5, true);
      });
      m.run({ untilIdle: true });
      expect(r(RESULT)).toBe(0);
      expect(patternAt(m, RAM, pages * 4096)).toBe(true);
      const done = [...m.trace.records()].filter((x) => x.kind === TraceKind.Completion);
      const { dmaLatencyNs: lat, dmaBytesPerNs: bw } = m.cost;
      expect(done[0]!.timeNs - t0).toBe(lat + Math.ceil((pages * 4096) / bw) + waits.reduce((a, b) => a + b + lat, 0));
    });

    it('a page that still faults after a Success response fails the DMA instead of looping', () => {
      const { m, r, td, runDma } = priSetup();
      runDma();
      td.fn.dma.onPageResponse!(0, 0, 5, true);
      m.run({ untilIdle: true });
      expect(r(RESULT)).toBe(ITD_DMA_ERR_TX_FAIL);
    });
  });

  it('X_CTRL.MSI signals MSI vector 0 when the DMA completes', () => {
    const { m, w, program, runDma } = setup();
    const bell = new Doorbell();
    m.bus.map('doorbell', 0x0800_0000, 0x1000, bell);
    m.bus.write32(CFG + 0x84, 0x0800_0040);
    m.bus.write16(CFG + 0x8c, 0x21);
    m.bus.write16(CFG + 0x82, 1);
    program(RAM, RAM, 8);
    w(ITD_X_CTRL, ITD_X_CTRL_MSI);
    expect(runDma()).toBe(0);
    expect(bell.values).toEqual([0x21]);
  });
});
