// ZIP model path (rings + DMA + engine, driven through the bus without a guest):
// host throughput against raw pako on the same data in the same run, and the
// virtual-time throughput the cost model gives versus queue depth.
//
// The engine stands in for hardware with pako at level 1 (the hardware ignores the
// level and compresses below zlib -1), so the reference is pako at the same level.

import * as pako from 'pako';
import { figure, type BenchFigure } from './figure.js';
import { ZipRig, makeSqe, REQ, STATUS, sampleData, type QueueInfo } from '../../test/conformance/zip-rig.js';
import { ENGINE_DEFLATE_LEVEL } from '../../src/hw/zip/codec.js';

const KiB = 1024;
const MiB = 1 << 20;

function rigWithQueues(): { rig: ZipRig; comp: QueueInfo; decomp: QueueInfo } {
  const rig = new ZipRig({ ramSize: 512 * MiB }).startQm();
  return { rig, comp: rig.startQueue(0, 0, { depth: 1024 }), decomp: rig.startQueue(1, 1, { depth: 1024 }) };
}

/** One request per iteration through SQE write, doorbell, event loop and CQ reap. */
function requestLoop(rig: ZipRig, q: QueueInfo, sqe: Uint8Array, expectStatus: number): (n: number) => void {
  return (n) => {
    for (let i = 0; i < n; i++) {
      const [slot] = rig.submit(q, sqe);
      rig.run();
      if (rig.reap(q).length !== 1 || rig.result(q, slot!).status !== expectStatus) throw new Error('zip bench: request failed');
      rig.reapEq();
    }
  };
}

/**
 * Times `a` and `b` in alternating rounds (the host is shared, its speed drifts) and
 * returns the ns per call of each from the round with the median ratio.
 */
function interleaved(a: (n: number) => void, b: (n: number) => void, iters: number, rounds: number): [number, number] {
  a(1);
  b(1);
  const samples: [number, number][] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = process.hrtime.bigint();
    a(iters);
    const ta = Number(process.hrtime.bigint() - t0) / iters;
    t0 = process.hrtime.bigint();
    b(iters);
    const tb = Number(process.hrtime.bigint() - t0) / iters;
    samples.push([ta, tb]);
  }
  samples.sort((x, y) => x[1] / x[0] - y[1] / y[0]);
  return samples[samples.length >> 1]!;
}

function hostRatios(size: number, label: string, rounds: number, iters: number): BenchFigure[] {
  const { rig, comp, decomp } = rigWithQueues();
  const data = sampleData(size, 5);
  const src = rig.put(data);
  const dst = rig.alloc(size * 2 + 4096);
  const compSqe = makeSqe({ reqType: REQ.ZLIB, src, dst, inLen: size, availOut: size * 2 });
  const zlibStream = pako.deflate(data, { level: ENGINE_DEFLATE_LEVEL });
  const packed = rig.put(zlibStream);
  const out = rig.alloc(size + 4096);
  const decompSqe = makeSqe({ reqType: REQ.ZLIB, src: packed + 2, dst: out, inLen: zlibStream.length - 2, availOut: size + 4096 });

  let sink = 0;
  const [engineComp, pakoComp] = interleaved(requestLoop(rig, comp, compSqe, STATUS.OK), (n) => {
    for (let i = 0; i < n; i++) sink += pako.deflate(data, { level: ENGINE_DEFLATE_LEVEL }).length;
  }, iters, rounds);
  const [engineDecomp, pakoDecomp] = interleaved(requestLoop(rig, decomp, decompSqe, STATUS.OK), (n) => {
    for (let i = 0; i < n; i++) sink += pako.inflate(zlibStream).length;
  }, iters, rounds);
  if (sink === 0) throw new Error('zip bench: nothing produced');
  const mbps = (ns: number) => size / ns / 1.048576 * 1000; // MiB/s
  return [
    figure(`zip.host_compress_zlib_${label}_vs_pako`, pakoComp / engineComp, 'x', { min: 0.9 }, `engine ${mbps(engineComp).toFixed(0)} MiB/s, pako.deflate level ${ENGINE_DEFLATE_LEVEL} ${mbps(pakoComp).toFixed(0)} MiB/s`),
    figure(`zip.host_decompress_zlib_${label}_vs_pako`, pakoDecomp / engineDecomp, 'x', { min: 0.8 }, `engine ${mbps(engineDecomp).toFixed(0)} MiB/s, pako.inflate ${mbps(pakoDecomp).toFixed(0)} MiB/s`),
  ];
}

/** Virtual-time throughput with `depth` 8 KiB requests kept outstanding (GB/s = bytes per ns). */
function virtualThroughput(depth: number, decompress: boolean): number {
  const { rig, comp, decomp } = rigWithQueues();
  const q = decompress ? decomp : comp;
  const size = 8 * KiB;
  const data = sampleData(size, 9);
  const packed = pako.deflateRaw(data, { level: 6 });
  const src = rig.put(decompress ? packed : data);
  const sqes = Array.from({ length: depth }, () =>
    makeSqe(decompress
      ? { reqType: REQ.DEFLATE, src, dst: rig.alloc(size), inLen: packed.length, availOut: size }
      : { reqType: REQ.DEFLATE, src, dst: rig.alloc(2 * size), inLen: size, availOut: 2 * size }),
  );
  const total = 512;
  let submitted = 0;
  let done = 0;
  rig.submit(q, ...sqes);
  submitted += depth;
  const clock = rig.machine.clock;
  const t0 = clock.now();
  while (done < total) {
    if (!clock.fireNext()) break;
    const n = rig.reap(q).length;
    if (n > 0) {
      done += n;
      const more = Math.min(n, total - submitted);
      if (more > 0) {
        rig.submit(q, ...sqes.slice(0, more));
        submitted += more;
      }
    }
  }
  return (done * size) / (clock.now() - t0);
}

export async function bench(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [...hostRatios(64 * KiB, '64k', 15, 10), ...hostRatios(MiB, '1m', 9, 2)];
  for (const decompress of [false, true]) {
    for (const depth of [1, 2, 4, 8, 16, 32, 64]) {
      figures.push(figure(`zip.virtual_${decompress ? 'decompress' : 'compress'}_8k_qd${depth}`, virtualThroughput(depth, decompress), 'GB/s', undefined, 'virtual time, cost model (2 compress / 6 decompress cores)'));
    }
  }
  return figures;
}
