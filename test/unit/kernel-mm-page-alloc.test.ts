import { afterEach, describe, expect, it } from 'vitest';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_ZERO, ZONE_MOVABLE, ZONE_NORMAL } from '../../src/kernel/mm/gfp.js';
import {
  __free_pages,
  alloc_pages,
  check_page_alloc_consistency,
  drain_all_pages,
  mem_init,
  NODE_DATA,
  nr_free_pages,
  put_page,
  totalram_pages,
} from '../../src/kernel/mm/page_alloc.js';
import { PfnList } from '../../src/kernel/mm/mmzone.js';
import { MAX_PAGE_ORDER, MemMap, PAGE_SIZE, PAGES_PER_SECTION, PG_buddy, PG_reserved } from '../../src/kernel/mm/page.js';
import { global_page_state, vmstat_show } from '../../src/kernel/mm/vmstat.js';
import { makeBusCpu } from '../support/mm-bus-cpu.js';
import { xorshift32 as rng } from '../../src/machine/prng.js';

const RAM = 0x4000_0000;
const MiB = 1024 * 1024;

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe('buddy allocator (mm/page_alloc.c)', () => {
  it('gives every non-reserved page to the buddy and splits 25% into ZONE_MOVABLE by default', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 64 * MiB }], reserved: [{ base: RAM, size: 2 * MiB }] });
    const normal = pg.node_zones[ZONE_NORMAL]!;
    const movable = pg.node_zones[ZONE_MOVABLE]!;
    expect(movable.managed_pages).toBe((16 * MiB) / PAGE_SIZE);
    expect(normal.managed_pages).toBe((46 * MiB) / PAGE_SIZE);
    expect(nr_free_pages()).toBe(totalram_pages());
    expect(pg.mem_map.testFlags(RAM / PAGE_SIZE, PG_reserved)).toBe(true);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('splits a larger block on allocation and merges buddies back on free', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 16 * MiB }], movablecore: 0 });
    const z = pg.node_zones[ZONE_NORMAL]!;
    const before = z.free_area.map((l) => l.count);
    expect(before[MAX_PAGE_ORDER]).toBe(4);
    const p = alloc_pages(1, GFP_KERNEL);
    expect(p).toBe(RAM / PAGE_SIZE); // lowest block first: boot frees to the tail
    // one max-order block split into one free block of each order 1..9
    expect(z.free_area[0]!.count).toBe(0);
    for (let o = 1; o < MAX_PAGE_ORDER; o++) expect(z.free_area[o]!.count).toBe(1);
    expect(z.free_area[MAX_PAGE_ORDER]!.count).toBe(3);
    __free_pages(p, 1);
    expect(z.free_area.map((l) => l.count)).toEqual(before);
    expect(pg.mem_map.testFlags(p, PG_buddy)).toBe(true);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('order-0 pages come from the pcp list refilled in a batch; drain_all_pages merges them back', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 16 * MiB }], movablecore: 0 });
    const z = pg.node_zones[ZONE_NORMAL]!;
    const free0 = nr_free_pages();
    const p = alloc_pages(0, GFP_KERNEL);
    expect(z.pcp.count).toBe(z.pcp_batch - 1);
    expect(nr_free_pages()).toBe(free0 - 1);
    __free_pages(p, 0);
    expect(z.pcp.count).toBe(z.pcp_batch);
    expect(alloc_pages(0, GFP_KERNEL)).toBe(p); // hot page reused first
    __free_pages(p, 0);
    drain_all_pages();
    expect(z.pcp.count).toBe(0);
    expect(z.free_area[MAX_PAGE_ORDER]!.count).toBe(4);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('a pcp refill takes the pages __rmqueue_smallest would hand out one at a time, and leaves the same free lists', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const pg = mem_init({ memory: [{ base: RAM, size: 16 * MiB }], movablecore: 0 });
      const z = pg.node_zones[ZONE_NORMAL]!;
      // Fragment the free lists: random blocks of orders 0..5 allocated, some freed again.
      const r = rng(seed);
      const live: { pfn: number; order: number }[] = [];
      for (let i = 0; i < 300; i++) {
        if (live.length > 0 && r() < 0.4) {
          const b = live.splice(Math.floor(r() * live.length), 1)[0]!;
          __free_pages(b.pfn, b.order);
        } else {
          const order = Math.floor(r() * 6);
          const pfn = alloc_pages(order, GFP_KERNEL);
          if (pfn >= 0) live.push({ pfn, order });
        }
      }
      drain_all_pages();
      const lists = (): number[][] =>
        z.free_area.map((l) => {
          const out: number[] = [];
          for (let pfn = l.head; pfn >= 0; pfn = l.next(pfn)) out.push(pfn);
          return out;
        });
      // The model: pcp_batch calls of __rmqueue_smallest(order 0), buddies added at the list heads.
      const model = lists();
      const taken: number[] = [];
      for (let i = 0; i < z.pcp_batch; i++) {
        let o = 0;
        while (o <= MAX_PAGE_ORDER && model[o]!.length === 0) o++;
        if (o > MAX_PAGE_ORDER) break;
        const pfn = model[o]!.shift()!;
        for (let h = o; h > 0; h--) model[h - 1]!.unshift(pfn + (1 << (h - 1)));
        taken.push(pfn);
      }
      const free0 = nr_free_pages();
      expect(alloc_pages(0, GFP_KERNEL), `seed ${seed}`).toBe(taken[0]);
      const pcp: number[] = [];
      for (let pfn = z.pcp.head; pfn >= 0; pfn = z.pcp.next(pfn)) pcp.push(pfn);
      expect(pcp, `seed ${seed}`).toEqual(taken.slice(1));
      expect(lists(), `seed ${seed}`).toEqual(model);
      expect(nr_free_pages()).toBe(free0 - 1);
      expect(check_page_alloc_consistency()).toEqual([]);
    }
  });

  it('movable allocations come from ZONE_MOVABLE first, kernel allocations never do', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 32 * MiB }] });
    const mstart = pg.movable_start_pfn;
    const u = alloc_pages(0, GFP_HIGHUSER_MOVABLE);
    expect(u).toBeGreaterThanOrEqual(mstart);
    const k = alloc_pages(0, GFP_KERNEL);
    expect(k).toBeLessThan(mstart);
    expect(global_page_state('pgalloc_movable')).toBe(1);
    expect(global_page_state('pgalloc_normal')).toBe(1);
  });

  it('kernelcore= sizes ZONE_NORMAL and the zone boundary falls on a max-order block', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 64 * MiB }], kernelcore: 10 * MiB });
    expect(pg.movable_start_pfn % (1 << MAX_PAGE_ORDER)).toBe(0);
    expect(pg.node_zones[ZONE_NORMAL]!.managed_pages).toBe((12 * MiB) / PAGE_SIZE);
  });

  it('__GFP_ZERO returns zeroed memory even for a page that held data', () => {
    const { cpu, restore: r } = makeBusCpu(16 * MiB);
    restore = r;
    mem_init({ memory: [{ base: RAM, size: 16 * MiB }] });
    const p = alloc_pages(0, GFP_KERNEL);
    cpu.stPhys32(p * PAGE_SIZE + 100, 0xdeadbeef);
    __free_pages(p, 0);
    const q = alloc_pages(0, GFP_KERNEL | __GFP_ZERO);
    expect(q).toBe(p);
    expect(cpu.ldPhys32(q * PAGE_SIZE + 100)).toBe(0);
  });

  it('fails with -1 when a zone cannot satisfy the order and no reclaim is wired', () => {
    mem_init({ memory: [{ base: RAM, size: 8 * MiB }], movablecore: 0 });
    expect(alloc_pages(MAX_PAGE_ORDER + 1, GFP_KERNEL)).toBe(-1);
    const a = alloc_pages(MAX_PAGE_ORDER, GFP_KERNEL);
    expect(a).toBeGreaterThan(0);
    expect(alloc_pages(MAX_PAGE_ORDER, GFP_KERNEL)).toBe(-1); // the watermark keeps the rest
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('a 16 GiB node costs host memory only for the sections it touched', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 16 * 1024 * MiB }], reserved: [{ base: RAM, size: 4 * MiB }] });
    const got: number[] = [];
    for (let i = 0; i < 1000; i++) got.push(alloc_pages(0, GFP_HIGHUSER_MOVABLE));
    expect(pg.mem_map.hostBytes).toBeLessThan(4 * MiB);
    expect(nr_free_pages()).toBe(totalram_pages() - 1000);
    // a block taken from an untouched section stays allocated once the section materialises
    expect(check_page_alloc_consistency()).toEqual([]);
    for (const p of got) __free_pages(p, 0);
    drain_all_pages();
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('stays consistent (every page free exactly once or in use) after a random workload', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 24 * MiB }, { base: RAM + 40 * MiB, size: 8 * MiB + 12 * 1024 }], reserved: [{ base: RAM + 3 * MiB, size: 20 * 1024 }] });
    const r = rng(42);
    const live: { pfn: number; order: number }[] = [];
    const total = nr_free_pages();
    for (let i = 0; i < 4000; i++) {
      if (live.length > 0 && r() < 0.45) {
        const k = Math.floor(r() * live.length);
        const b = live[k]!;
        live[k] = live[live.length - 1]!;
        live.pop();
        if (b.order === 0 && r() < 0.5) put_page(b.pfn);
        else __free_pages(b.pfn, b.order);
      } else {
        const order = r() < 0.7 ? 0 : Math.floor(r() * 6);
        const pfn = alloc_pages(order, r() < 0.5 ? GFP_KERNEL : GFP_HIGHUSER_MOVABLE);
        if (pfn >= 0) live.push({ pfn, order });
      }
    }
    expect(check_page_alloc_consistency()).toEqual([]);
    for (const b of live) __free_pages(b.pfn, b.order);
    expect(nr_free_pages()).toBe(total);
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(pg.pfn_valid((RAM + 30 * MiB) / PAGE_SIZE)).toBe(false);
    expect(vmstat_show()).toMatch(/^nr_free_pages \d+\n/);
  });

  it('the consistency check reports a page freed while still listed', () => {
    const pg = mem_init({ memory: [{ base: RAM, size: 8 * MiB }] });
    const p = alloc_pages(0, GFP_KERNEL);
    pg.mem_map.setRefcount(p, 0); // leak: neither free nor in use
    expect(check_page_alloc_consistency().join()).toMatch(/neither free nor in use/);
    expect(NODE_DATA()).toBe(pg);
  });
});

describe('page lists through the mem_map (list_head of struct page)', () => {
  it('a list whose pages lie in different memory sections links, unlinks and walks both ways like the list it models', () => {
    const map = new MemMap(3 * PAGES_PER_SECTION);
    const list = new PfnList(map);
    const model: number[] = [];
    // neighbours in the same section and across section boundaries, in both directions
    const pfns = [5, PAGES_PER_SECTION - 1, PAGES_PER_SECTION, 2 * PAGES_PER_SECTION + 7, 6, PAGES_PER_SECTION + 3, 2 * PAGES_PER_SECTION - 1];
    pfns.forEach((p, k) => {
      if (k % 2 === 0) {
        list.addHead(p);
        model.unshift(p);
      } else {
        list.addTail(p);
        model.push(p);
      }
    });
    const walk = (): number[] => {
      const out: number[] = [];
      for (let p = list.head; p >= 0; p = list.next(p)) out.push(p);
      return out;
    };
    const walkBack = (): number[] => {
      const out: number[] = [];
      for (let p = list.tail; p >= 0; p = map.sec(p).prev[p % PAGES_PER_SECTION]!) out.push(p);
      return out;
    };
    expect(walk()).toEqual(model);
    expect(walkBack()).toEqual([...model].reverse());
    for (const p of [PAGES_PER_SECTION, 5, 2 * PAGES_PER_SECTION - 1, PAGES_PER_SECTION + 3]) {
      list.del(p);
      model.splice(model.indexOf(p), 1);
      expect(walk()).toEqual(model);
      expect(walkBack()).toEqual([...model].reverse());
      expect(list.count).toBe(model.length);
      expect(map.sec(p).next[p % PAGES_PER_SECTION]).toBe(-1);
      expect(map.sec(p).prev[p % PAGES_PER_SECTION]).toBe(-1);
    }
  });
});
