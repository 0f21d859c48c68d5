import { describe, it, expect } from 'vitest';
import { inflateSync } from 'node:zlib';
import { ZipRig, makeSqe, REQ, STATUS, sampleData } from './zip-rig.js';

describe('smoke', () => {
  it('compresses zlib', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0);
    const data = sampleData(10000);
    const src = rig.put(data);
    const dst = rig.alloc(20000);
    rig.bus.writeBytes(dst, new Uint8Array([0x78, 0x9c]));
    const [slot] = rig.submit(q, makeSqe({ reqType: REQ.ZLIB, src, dst: dst + 2, inLen: data.length, availOut: 19998 }));
    rig.run();
    expect(rig.reap(q)).toEqual([slot]);
    const r = rig.result(q, slot!);
    expect(r.status).toBe(STATUS.OK);
    const out = rig.bus.readBytes(dst, r.produced + 2);
    expect(Buffer.from(inflateSync(out))).toEqual(Buffer.from(data));
    expect(rig.msi.received).toContain(0);
  });
});
