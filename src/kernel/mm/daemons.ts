// The memory-management kernel threads: kswapd0 (mm/vmscan.c) reclaims in the
// background after an allocation found a zone below its low watermark; kcompactd0
// (mm/compaction.c) compacts after a high-order allocation failed or kswapd asked.
// Both sleep on their wait queues and are woken by the allocator's slow path.

import { kthread_run, kthread_should_stop } from '../kernel/kthread.js';
import { wait_event, wake_up, WaitQueueHead } from '../sched/wait.js';
import { kcompactd_do_work, set_kcompactd_waker, should_proactive_compact, wakeup_kcompactd } from './compaction.js';
import { NODE_DATA } from './page_alloc.js';
import { balance_pgdat, set_kswapd_waker } from './vmscan.js';

const kswapd_wait = new WaitQueueHead('kswapd_wait');
const kcompactd_wait = new WaitQueueHead('kcompactd_wait');

/** kswapd: sleeps until woken with a request, balances the node, wakes kcompactd for high orders. */
function* kswapd(): Generator<unknown, number, unknown> {
  const pgdat = NODE_DATA();
  for (;;) {
    yield* wait_event(kswapd_wait, () => pgdat.kswapd_order >= 0 || kthread_should_stop());
    if (kthread_should_stop()) return 0;
    const order = pgdat.kswapd_order;
    pgdat.kswapd_order = -1;
    balance_pgdat(order);
    // kswapd_try_to_sleep: kcompactd takes over for high orders, or proactively when memory is fragmented
    if (order > 0) wakeup_kcompactd(order);
    else if (should_proactive_compact()) wakeup_kcompactd(0);
  }
}

/** kcompactd: sleeps until woken, then compacts every zone for the requested order. */
function* kcompactd(): Generator<unknown, number, unknown> {
  const pgdat = NODE_DATA();
  for (;;) {
    yield* wait_event(kcompactd_wait, () => pgdat.kcompactd_max_order >= 0 || kthread_should_stop());
    if (kthread_should_stop()) return 0;
    const order = pgdat.kcompactd_max_order;
    pgdat.kcompactd_max_order = -1;
    kcompactd_do_work(order);
  }
}

/** kswapd_run + kcompactd_run: starts both threads and connects the allocator's wake-ups. */
export function mm_start_daemons(): void {
  kthread_run(kswapd, 'kswapd0');
  kthread_run(kcompactd, 'kcompactd0');
  set_kswapd_waker(() => wake_up(kswapd_wait));
  set_kcompactd_waker(() => wake_up(kcompactd_wait));
}
